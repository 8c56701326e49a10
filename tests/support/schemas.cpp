#include "schemas.h"

#include "process.h"

#include <cstdlib>

namespace bw::test {

std::string schema_path(const std::string& name) {
  const char* dir = std::getenv("BULWARK_CONFORMANCE_DIR");
  std::string root = dir && *dir ? dir : std::string(BULWARK_SOURCE_DIR) + "/../shared/conformance";
  return root + "/schemas/" + name;
}

bool sarif_valid(const std::string& file, std::string& out) {
  return run_command({"python3", "-c",
                      "import json,sys,jsonschema\n"
                      "jsonschema.validate(json.load(open(sys.argv[1])), "
                      "json.load(open(sys.argv[2])))\nprint('valid')",
                      file, schema_path("sarif-schema-2.1.0.json")},
                     out) == 0 &&
         out.find("valid") != std::string::npos;
}

bool cyclonedx_valid(const std::string& file, std::string& out) {
  // The BOM schema refers to the SPDX and JSF schemas beside it.
  return run_command({"python3", "-c",
                      "import json,sys,pathlib,warnings,jsonschema\n"
                      "warnings.simplefilter('ignore')\n"
                      "d=pathlib.Path(sys.argv[2]).parent\n"
                      "schema=json.load(open(sys.argv[2]))\n"
                      "store={}\n"
                      "for n in ['spdx.schema.json','jsf-0.82.schema.json']:\n"
                      "  s=json.load(open(d/n)); store[n]=s; store[s.get('$id',n)]=s\n"
                      "r=jsonschema.RefResolver(base_uri=d.as_uri()+'/',referrer=schema,"
                      "store=store)\n"
                      "jsonschema.validate(json.load(open(sys.argv[1])),schema,resolver=r)\n"
                      "print('valid')",
                      file, schema_path("bom-1.5.schema.json")},
                     out) == 0 &&
         out.find("valid") != std::string::npos;
}

}  // namespace bw::test

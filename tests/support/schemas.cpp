#include "schemas.h"

#include "process.h"

#include <cstdlib>

namespace bw::test {
namespace {

// python3-jsonschema on `file` against schemas/`schema`; the schemas it refers to (`refs`,
// beside it) are resolved from that folder. With none, its own ids resolve its references.
bool validates(const std::string& file, const std::string& schema, const std::string& refs,
               std::string& out) {
  return run_command({"python3", "-c",
                      "import json,sys,pathlib,warnings,jsonschema\n"
                      "warnings.simplefilter('ignore')\n"
                      "d=pathlib.Path(sys.argv[2]).parent\n"
                      "schema=json.load(open(sys.argv[2]))\n"
                      "store={}\n"
                      "for n in filter(None, sys.argv[3].split(',')):\n"
                      "  s=json.load(open(d/n)); store[n]=s; store[s.get('$id',n)]=s\n"
                      "r=jsonschema.RefResolver(base_uri=d.as_uri()+'/',referrer=schema,"
                      "store=store) if store else None\n"
                      "jsonschema.validate(json.load(open(sys.argv[1])),schema,resolver=r)\n"
                      "print('valid')",
                      file, schema_path(schema), refs},
                     out) == 0 &&
         out.find("valid") != std::string::npos;
}

}  // namespace

std::string schema_path(const std::string& name) {
  const char* dir = std::getenv("BULWARK_CONFORMANCE_DIR");
  std::string root = dir && *dir ? dir : std::string(BULWARK_SOURCE_DIR) + "/../shared/conformance";
  return root + "/schemas/" + name;
}

bool sarif_valid(const std::string& file, std::string& out) {
  return validates(file, "sarif-schema-2.1.0.json", "", out);
}

bool cyclonedx_valid(const std::string& file, std::string& out) {
  return validates(file, "bom-1.5.schema.json", "spdx.schema.json,jsf-0.82.schema.json", out);
}

}  // namespace bw::test

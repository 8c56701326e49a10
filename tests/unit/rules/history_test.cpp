#include "rules/history.h"

#include <doctest/doctest.h>

using namespace bw;

TEST_CASE("legacy and BuildKit created_by forms") {
  auto add = parse_created_by("/bin/sh -c #(nop) ADD file:2e3a37883f in / ");
  CHECK(add.instruction == "ADD");
  CHECK(add.text == "file:2e3a37883f in /");
  auto cmd = parse_created_by("/bin/sh -c #(nop)  CMD [\"/bin/sh\"]");
  CHECK(cmd.instruction == "CMD");
  auto run = parse_created_by("/bin/sh -c apt-get update && apt-get install -y curl");
  CHECK(run.instruction == "RUN");
  REQUIRE(run.commands.size() == 2);
  CHECK(run.commands[1].argv == std::vector<std::string>{"apt-get", "install", "-y", "curl"});
  auto bk = parse_created_by(
      "RUN |2 VERSION=1.2 TOKEN=abc /bin/sh -c curl -fsSL https://x/$VERSION | sh # buildkit");
  CHECK(bk.instruction == "RUN");
  CHECK(bk.build_args == std::vector<std::string>{"VERSION=1.2", "TOKEN=abc"});
  REQUIRE(bk.commands.size() == 2);
  CHECK(bk.commands[1].piped);
  CHECK(parse_created_by("COPY app /app # buildkit").instruction == "COPY");
  CHECK(parse_created_by("ENV PATH=/usr/local/bin:/usr/bin").instruction == "ENV");
  CHECK(parse_created_by("|1 pkg=curl /bin/sh -c apk add $pkg").build_args ==
        std::vector<std::string>{"pkg=curl"});
}

TEST_CASE("shell splitting respects quotes, escapes, substitutions and comments") {
  auto c = split_shell(R"sh(echo "a && b" | tee 'x;y' ; sh -c "$(curl -s https://x | cat)" \
  && foo\ bar # trailing comment && not-a-command)sh");
  REQUIRE(c.size() == 4);
  CHECK(c[0].argv == std::vector<std::string>{"echo", "a && b"});
  CHECK(c[1].piped);
  CHECK(c[1].argv[1] == "x;y");
  CHECK(c[2].argv[2] == "$(curl -s https://x | cat)");
  CHECK(c[3].argv == std::vector<std::string>{"foo bar"});
  CHECK(split_shell("").empty());
  CHECK(split_shell("a || b").size() == 2);
}

TEST_CASE("layers map to history entries that made them") {
  nlohmann::json cfg = {
      {"history",
       {{{"created_by", "/bin/sh -c #(nop) ADD file:x in /"}},
        {{"created_by", "/bin/sh -c #(nop)  CMD [\"bash\"]"}, {"empty_layer", true}},
        {{"created_by", "/bin/sh -c make"}}}}};
  auto h = parse_history(cfg);
  REQUIRE(h.size() == 3);
  CHECK(h[0].layer_index == 0);
  CHECK(h[1].layer_index == -1);
  CHECK(h[2].layer_index == 1);
}

// Faithful replicas of the candidate bases, built from the Debian packages the real images are
// made of (distroless's package sets are public), for tests that measure candidates and build
// onto them. Each shares its lower layers with the one below it, as the real images do.
#pragma once

#include "daemon.h"
#include "registry.h"

#include <nlohmann/json.hpp>

#include <string>

namespace bw::test {

// gcr.io/distroless/static-debian12:nonroot: base-files, netbase, tzdata, ca-certificates, the
// nonroot passwd and group. `marker`: a file of a team's own that tells a golden copy apart.
TestImage distroless_static_replica(const std::string& marker = "");
// gcr.io/distroless/base-debian12:nonroot: static's layer, then libc6 and libssl3.
TestImage distroless_base_replica();
// gcr.io/distroless/cc-debian12:nonroot: base's layers, then libgcc-s1, libstdc++6, libgomp1.
TestImage distroless_cc_replica();
// gcr.io/distroless/nodejs20-debian12:nonroot: cc's layers, then this machine's node as
// /nodejs/bin/node with the Debian packages of the libraries it loads that cc lacks,
// ENTRYPOINT ["/nodejs/bin/node"].
TestImage distroless_nodejs_replica();
// gcr.io/distroless/java17-debian12:nonroot: cc's layers, then Debian's openjdk-17-jre-headless
// with the packages of the libraries it loads that cc lacks, /usr/bin/java linked to it,
// ENTRYPOINT ["/usr/bin/java", "-jar"].
TestImage distroless_java17_replica();
inline constexpr const char* kJrePackage = "openjdk-17-jre-headless";
inline constexpr const char* kJavaHome = "usr/lib/jvm/java-17-openjdk-amd64";
// gcr.io/distroless/python3-debian12:nonroot: base's layers, then Debian's Python 3.11 (the
// minimal interpreter and its libraries), ENTRYPOINT ["/usr/bin/python3.11"].
TestImage distroless_python3_replica();
// busybox as Debian's busybox-static package makes it: the binary and a link per applet.
TestImage busybox_replica();

// Every candidate judged for the image of `report` (GET /v1/images/{digest}/candidates), not
// only the few switches the report lists: none projected onto a measured candidate says it
// removes a finding the candidate's own report (read from `d`) holds. Returns how many measured
// switches were walked.
std::size_t check_no_carried_removals(Daemon& d, const nlohmann::json& report);

}  // namespace bw::test

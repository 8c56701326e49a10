"""The CI templates in deploy/ci/ as a platform engineer would take them: what each must hold to
work as shipped (the CLI installed, the registry login with the job's token, the permissions
pushing and uploading need, lower-case image names, current action majors, reports wired to the
files written), and every shell block parsed by sh -n. Run by tests/release/ci_templates.sh."""
import re
import subprocess
import sys

import yaml


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def sh_ok(text, what):
    r = subprocess.run(["sh", "-n"], input=text, text=True, capture_output=True)
    if r.returncode != 0:
        fail(f"{what} does not parse as shell: {r.stderr.strip()}")


def github(path):
    doc = yaml.safe_load(open(path))
    # YAML 1.1 reads the key `on` as True.
    if "on" not in doc and True not in doc:
        fail("github: no trigger")
    perms = doc.get("permissions", {})
    for key, want in {"contents": "read", "packages": "write", "security-events": "write"}.items():
        if perms.get(key) != want:
            fail(f"github: permissions.{key} must be {want}, is {perms.get(key)}")
    steps = doc["jobs"]["scan"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    for i, r in enumerate(runs):
        sh_ok(r.replace("${GITHUB_REPOSITORY,,}", "x"), f"github run block {i + 1}")
    text = "\n".join(runs)
    if "${GITHUB_REPOSITORY,,}" not in text:
        fail("github: the image name is not lower-cased")
    install = [s for s in steps if "bulwark" in s.get("name", "").lower() and "install" in s.get("name", "").lower()]
    if not install or "/usr/local/bin/bulwark" not in install[0]["run"] or "bulwark --version" not in install[0]["run"]:
        fail("github: no step installs bulwark and checks it runs")
    wrapper = re.search(r"<<'EOF'\n(.*?)\n\s*EOF", install[0]["run"], re.S)
    if not wrapper:
        fail("github: the bulwark wrapper is not found")
    sh_ok("\n".join(line.strip() for line in wrapper.group(1).splitlines()), "github: the bulwark wrapper")
    scan = next((r for r in runs if "bulwark scan" in r), "")
    for need in ("--fail-under", "--fail-on", "-o bulwark.sarif"):
        if need not in scan:
            fail(f"github: the scan step lacks {need}")
    uses = [s["uses"] for s in steps if "uses" in s]
    sarif = [u for u in uses if u.startswith("github/codeql-action/upload-sarif@")]
    if not sarif or int(sarif[0].split("@v")[1]) < 4:
        fail(f"github: upload-sarif must be v4 or later, is {sarif}")
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    if upload.get("if") != "always()" or upload["with"]["sarif_file"] != "bulwark.sarif":
        fail("github: the SARIF is not uploaded whatever the policy said")


def gitlab(path):
    doc = yaml.safe_load(open(path))
    job = doc["bulwark"]
    if not job.get("image"):
        fail("gitlab: the job names no image")
    if not any("dind" in (s if isinstance(s, str) else s.get("name", "")) for s in job.get("services", [])):
        fail("gitlab: no docker-in-docker service to run the release image")
    lines = job.get("before_script", []) + job["script"]
    sh_ok("\n".join(lines), "gitlab: the job's script")
    text = "\n".join(lines)
    if not re.search(r'echo "\$CI_JOB_TOKEN" \| docker login "\$CI_REGISTRY" -u gitlab-ci-token', text):
        fail("gitlab: no login to the pipeline's registry with the job token")
    if "$BULWARK_IMAGE" not in text:
        fail("gitlab: the CLI's image is not used")
    reports = job["artifacts"]["reports"]
    if job["artifacts"].get("when") != "always":
        fail("gitlab: artefacts only on success")
    for kind, file in reports.items():
        if f"/tmp/out/{file}" not in text:
            fail(f"gitlab: the {kind} report {file} is not written by the scan")
    if "exit ${status:-0}" not in text:
        fail("gitlab: the job does not end with the scan's exit code")


github(sys.argv[1])
gitlab(sys.argv[2])
print("ci templates: ok")

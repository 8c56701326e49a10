"""Prints the image config (the `config` section and the history) that the final stage of a
Dockerfile gives its image, as `docker build` would: USER, ENV, EXPOSE, HEALTHCHECK, ENTRYPOINT,
CMD, WORKDIR, and one history entry per instruction. Enough for the instructions
deploy/Dockerfile uses; an instruction it does not know fails loudly.

    python3 dockerfile_config.py Dockerfile   ->   {"config": {...}, "history": [...]}
"""
import json
import shlex
import sys


def instructions(text):
    line = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            line += stripped[:-1] + " "
            continue
        yield (line + stripped).split(None, 1)
        line = ""


def main(path):
    stages = [[]]
    for parts in instructions(open(path).read()):
        if parts[0].upper() == "FROM":
            stages.append([])
        stages[-1].append(parts)
    final = stages[-1]
    assert final and final[0][0].upper() == "FROM", "no final stage"
    config, history = {}, []
    for keyword, rest in final[1:]:
        keyword = keyword.upper()
        history.append({"created_by": f"{keyword} {rest}", **({} if keyword in ("COPY", "ADD", "RUN") else {"empty_layer": True})})
        if keyword == "USER":
            config["User"] = rest
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                config.setdefault("Env", []).append(pair)
        elif keyword == "EXPOSE":
            for port in rest.split():
                config.setdefault("ExposedPorts", {})[port if "/" in port else port + "/tcp"] = {}
        elif keyword == "HEALTHCHECK":
            test = rest.split(None, 1)
            assert test[0] == "CMD", rest
            config["Healthcheck"] = {"Test": ["CMD"] + json.loads(test[1])}
        elif keyword in ("ENTRYPOINT", "CMD"):
            config["Entrypoint" if keyword == "ENTRYPOINT" else "Cmd"] = json.loads(rest)
        elif keyword == "WORKDIR":
            config["WorkingDir"] = rest
        elif keyword not in ("COPY", "LABEL"):
            sys.exit(f"{path}: {keyword} is not understood by {sys.argv[0]}")
    print(json.dumps({"config": config, "history": history}))


main(sys.argv[1])

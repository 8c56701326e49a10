"""Checks the deployment files against what running Bulwark in production needs:
deploy/kubernetes/bulwarkd.yaml (pinned image, probes with a startup probe, non-root and read-only root,
/tmp and the data on volumes, TLS and registry credentials mounted where the image and the
config look, the Service on HTTPS, a NetworkPolicy and a ServiceMonitor) and deploy/bulwarkd.service (config file, environment file,
credentials, reload). Prints the ConfigMap's bulwark.json for `bulwarkd config check`.

    python3 check_deploy.py DEPLOY_DIR OUT_CONFIG_JSON
"""
import json
import sys

import yaml

deploy, out = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(f"{deploy}/kubernetes/bulwarkd.yaml")) if d]
by_kind = {d["kind"]: d for d in docs}
pod = by_kind["Deployment"]["spec"]["template"]["spec"]
(container,) = pod["containers"]
image = container["image"]
assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"image not pinned: {image}"
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    assert probe in container, f"no {probe}"
assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert pod["securityContext"]["runAsNonRoot"] is True
assert container["securityContext"]["readOnlyRootFilesystem"] is True
assert container["securityContext"]["allowPrivilegeEscalation"] is False
mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
for path in ("/tmp", "/var/lib/bulwark", "/etc/bulwark/tls", "/etc/bulwark/docker"):
    assert path in mounts, f"nothing mounted at {path}"
assert "emptyDir" in volumes[mounts["/tmp"]]
config = json.loads(by_kind["ConfigMap"]["data"]["bulwark.json"])
assert config["api"]["tls"]["cert_file"].startswith("/etc/bulwark/tls/")
assert config["data_dir"] == "/var/lib/bulwark"
# The image's DOCKER_CONFIG (deploy/Dockerfile) is where the registry credentials are mounted.
dockerfile = open(f"{deploy}/Dockerfile").read()
assert "DOCKER_CONFIG=/etc/bulwark/docker" in dockerfile
policy = by_kind["NetworkPolicy"]["spec"]
assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
assert policy["podSelector"]["matchLabels"] == {"app": "bulwarkd"}
monitor = by_kind["ServiceMonitor"]["spec"]
assert monitor["endpoints"][0]["path"] == "/metrics" and monitor["endpoints"][0]["scheme"] == "https"
(port,) = by_kind["Service"]["spec"]["ports"]
assert port["port"] == 443, "the Service must speak HTTPS"
unit = open(f"{deploy}/bulwarkd.service").read()
for needle in ("EnvironmentFile=", "LoadCredential=", "--config ", "ExecReload=", "DynamicUser=yes",
               "LimitNOFILE=", "ProtectSystem=strict", "StateDirectory=", "NoNewPrivileges=yes",
               "SystemCallFilter=@system-service"):
    assert needle in unit, f"bulwarkd.service lacks {needle}"
json.dump(config, open(out, "w"))

# The replicated variant: N replicas on PostgreSQL, no volume, a disruption budget and an
# autoscaler on the queue, the database password from a Secret and never in the URL.
docs = [d for d in yaml.safe_load_all(open(f"{deploy}/kubernetes/replicas.yaml")) if d]
kinds = {}
for d in docs:
    kinds.setdefault(d["kind"], []).append(d)
deployment = kinds["Deployment"][0]
assert deployment["spec"]["replicas"] >= 2
pod = deployment["spec"]["template"]["spec"]
assert not any("persistentVolumeClaim" in v for v in pod["volumes"]), "replicas share no volume"
(container,) = pod["containers"]
assert not container["image"].endswith(":latest")
env = {e["name"]: e for e in container["env"]}
assert "secretKeyRef" in env["PGPASSWORD"]["valueFrom"]
replica_config = json.loads(kinds["ConfigMap"][0]["data"]["bulwark.json"])
store = replica_config["store"]
assert store.startswith("postgresql://") and ":" not in store.split("://")[1].split("@")[0], \
    "no password in the store URL"
assert kinds["PodDisruptionBudget"][0]["spec"]["minAvailable"] >= 1
hpa = kinds["HorizontalPodAutoscaler"][0]["spec"]
# The fleet's queue, divided by the replicas (an External metric with an AverageValue target).
assert hpa["metrics"][0]["type"] == "External"
assert hpa["metrics"][0]["external"]["metric"]["name"] == "bulwark_store_scans_queued"
assert hpa["metrics"][0]["external"]["target"]["type"] == "AverageValue"
assert "StatefulSet" in kinds, "a PostgreSQL to try it with"
json.dump(replica_config, open(out + ".replicas", "w"))
print(f"deploy files: ok (image {image})")

"""deploy/: the Kubernetes manifests, the Compose file, the Dockerfile and the nginx template agree
with each other and with the app's config (issue 12); classroom.sh and the load client refuse
bad arguments with a message. No server is started here (tests/deploy/test_classroom.py does that)."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
sys.path.insert(0, str(ROOT / "benchmarks"))
import classroom_load  # noqa: E402

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
TEMPLATE = (DEPLOY / "nginx.conf.template").read_text()
HEALTH = "/_stcore/health"
ANN = "nginx.ingress.kubernetes.io/"


def load(name):
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())


def flag(args, name):
    """The value of --name=value or --name value in an argument list."""
    for j, a in enumerate(args):
        if a == f"--{name}":
            return args[j + 1]
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    raise AssertionError(f"--{name} not in {args}")


def nginx_value(directive):
    m = re.findall(rf"^\s*{directive}\s+([^;]+);", TEMPLATE, re.M)
    assert m, f"{directive} not in deploy/nginx.conf.template"
    return m


def megabytes(size):
    m = re.fullmatch(r"(\d+)([mM])", size)
    assert m, f"a size in MB like 20m, got {size!r}"
    return int(m.group(1))


@pytest.fixture(scope="module")
def deployment():
    return load("deployment.yaml")


@pytest.fixture(scope="module")
def container(deployment):
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def test_deployment_port_probes_and_labels(deployment, container):
    port = int(flag(container["command"], "server.port"))
    assert flag(container["command"], "server.address") == "0.0.0.0"  # reachable from the Service
    (p,) = container["ports"]
    assert p["containerPort"] == port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == HEALTH and get["port"] in (p["name"], port), probe
    # Liveness must tolerate a busy replica (health took > 5 s under load before issue 12).
    live = container["livenessProbe"]
    assert live["timeoutSeconds"] * live["failureThreshold"] >= 30
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    env = {e["name"]: e for e in container["env"]}
    assert env["LSTM_EXPLORER_THREADS"]["value"] == "1"
    assert "secretKeyRef" in env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]  # one secret for all


def test_service_selects_the_pods_on_their_port(deployment, container):
    svc = load("service.yaml")
    assert svc["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (p,) = svc["spec"]["ports"]
    assert p["targetPort"] in (container["ports"][0]["name"], container["ports"][0]["containerPort"])
    assert svc["spec"].get("sessionAffinity", "None") == "None"  # ClientIP would pin a NAT'd room to one pod


def test_ingress_has_cookie_affinity_and_matches_the_app():
    ing, svc = load("ingress.yaml"), load("service.yaml")
    a = ing["metadata"]["annotations"]
    assert a[ANN + "affinity"] == "cookie"
    assert a[ANN + "session-cookie-name"] == "lstm_replica"
    assert "$cookie_lstm_replica" in TEMPLATE  # the same cookie name as classroom.sh's nginx
    assert megabytes(a[ANN + "proxy-body-size"]) == CONFIG["server"]["maxUploadSize"]
    assert int(a[ANN + "proxy-read-timeout"]) >= 3600 and int(a[ANN + "proxy-send-timeout"]) >= 3600
    (rule,) = ing["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/" and path["pathType"] == "Prefix"  # /_stcore/stream included
    backend = path["backend"]["service"]
    assert backend["name"] == svc["metadata"]["name"]
    assert backend["port"].get("name") == svc["spec"]["ports"][0]["name"]


def test_nginx_template_is_sticky_upgrades_and_matches_the_app():
    assert "ip_hash" not in re.sub(r"#.*", "", TEMPLATE)  # a classroom behind one NAT address
    assert nginx_value("hash") == ["$replica_key consistent"]
    assert "proxy_set_header Upgrade $http_upgrade" in TEMPLATE
    assert "proxy_set_header Connection $connection_upgrade" in TEMPLATE
    assert nginx_value("proxy_http_version") == ["1.1"]
    assert all(int(v.rstrip("s")) >= 3600 for v in nginx_value("proxy_read_timeout"))
    assert megabytes(nginx_value("client_max_body_size")[0]) == CONFIG["server"]["maxUploadSize"]
    assert nginx_value("daemon") == ["off"]  # classroom.sh and the compose proxy keep it in the foreground
    fields = set(re.findall(r"@@(\w+)@@", TEMPLATE))
    assert fields == {"RUN", "LISTEN", "USER", "SERVERS", "REPLICA_LIST"}
    for name in fields:  # every field is filled by both users of the template
        assert f"@@{name}@@" in (DEPLOY / "compose.yaml").read_text(), name
        assert f'"{name}"' in (DEPLOY / "classroom.sh").read_text(), name


def test_compose_and_dockerfile_agree_with_the_deployment(container):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    port = int(flag(container["command"], "server.port"))
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    assert [int(p) for p in app["expose"]] == [port]
    assert f"127.0.0.1:{port}{HEALTH}" in " ".join(app["healthcheck"]["test"])
    assert f"server app:{port} " in proxy["command"][-1]
    assert proxy["depends_on"]["app"]["condition"] == "service_healthy"
    listen = re.search(r"@@LISTEN@@\|(\d+)\|", proxy["command"][-1]).group(1)
    assert proxy["ports"][0].endswith(f":{listen}")
    docker = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in docker and f"--server.port={port}" in docker
    assert app["build"]["dockerfile"] == "deploy/Dockerfile"


BAD_ARGS = [  # classroom.sh arguments -> the message it gives, before starting anything
    (["--replicas", "0"], "--replicas must be a whole number from 1 to 64, got '0'"),
    (["--replicas", "two"], "--replicas must be a whole number from 1 to 64, got 'two'"),
    (["--port", "70000"], "--port must be 1-65535, got '70000'"),
    (["--first-replica-port", "80"], "--first-replica-port must leave room"),
    (["--address", "a b"], "--address must be a host name or IP address"),
    (["--bogus"], "unknown argument '--bogus'"),
]


@pytest.mark.parametrize("args, message", BAD_ARGS)
def test_classroom_sh_refuses_bad_arguments(args, message):
    r = subprocess.run(["bash", str(DEPLOY / "classroom.sh"), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_classroom_sh_says_how_to_install_nginx(tmp_path):
    r = subprocess.run(["bash", str(DEPLOY / "classroom.sh"), "--replicas", "1"], capture_output=True, text=True,
                       timeout=30, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable,
                            "CLASSROOM_NGINX": str(tmp_path / "none")})
    assert r.returncode == 2 and "apt-get install nginx" in r.stderr, r.stderr


@pytest.mark.parametrize("argv, message", [
    (["--url", "http://example.org/"], "must be http:// on this machine"),
    (["--url", "https://localhost/"], "must be http:// on this machine"),
    (["--sessions", "0"], "1 to 500 students"),
    (["--sessions", "a"], "integers like 1,10,25"),
    (["--think", "5-2"], "0 <= LOW <= HIGH"),
    (["--timeout", "0"], "--timeout: above 0"),
])
def test_load_client_refuses_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        classroom_load.parse_args(argv)
    assert message in capsys.readouterr().err


def test_load_client_sends_widget_states_as_the_frontend_does():
    """Each widget kind becomes the WidgetState field Streamlit's serde reads (elements/widgets/*.py)."""
    from streamlit.proto.Element_pb2 import Element
    page = classroom_load.Page()
    box, num = Element(), Element()  # Element.type is a oneof: one element each
    box.selectbox.options.extend(["a", "b"])
    box.selectbox.default = 1
    num.number_input.default = 3
    for kind, el in {"selectbox": box.selectbox, "number_input": num.number_input}.items():
        page.widgets[f"$$ID-x-{kind}"] = classroom_load.Widget(kind, el, "", classroom_load.initial_value(kind, el))
    page.widgets["$$ID-x-window"] = classroom_load.Widget("slider", None, "frag", [2, 9])
    page.widgets["$$ID-x-fields"] = classroom_load.Widget("multiselect", None, "", ["i", "h"])
    from streamlit.proto.BackMsg_pb2 import BackMsg
    b = BackMsg()
    b.ParseFromString(page.rerun("frag"))
    states = {s.id: s for s in b.rerun_script.widget_states.widgets}
    assert states["$$ID-x-selectbox"].string_value == "b"
    assert states["$$ID-x-number_input"].double_value == 3.0
    assert list(states["$$ID-x-window"].double_array_value.data) == [2.0, 9.0]
    assert list(states["$$ID-x-fields"].string_array_value.data) == ["i", "h"]
    assert b.rerun_script.fragment_id == "frag"

"""HAProxy configurations that stand in for the two Istio gateways of each link.

The ingress frontend is the server cluster's MUTUAL Gateway: it presents the server
Secret, requires a client certificate that the Secret's ``ca.crt`` verifies, keeps to
the Gateway's TLS versions and ciphers, only answers the Gateway's hosts (SNI), and
allows only the Gateway's client ``subjectAltNames``. The egress backend is the
DestinationRule: it presents the client Secret, sends the DR's SNI and verifies the
server against the client Secret's ``ca.crt`` and the DR's ``subjectAltNames``.

HAProxy 2.6 has no sample fetch for a client certificate's SANs, so a small Lua action
reads them from ``ssl_c_der``. Envoy checks them during the handshake; here the check
runs right after it, before a single byte is forwarded: the outcome for the client is
the same (nothing reaches the service), the alert it sees is not.

Every log line is ``meshlink key=value ...`` on stderr, so each probe's outcome can be
matched to its own connection (by client port) and its reason read back.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from meshlink.offline.rehearse.pki import normalise_san

HAPROXY_TLS_VERSION = {
    "TLSV1_0": "TLSv1.0",
    "TLSV1_1": "TLSv1.1",
    "TLSV1_2": "TLSv1.2",
    "TLSV1_3": "TLSv1.3",
}

INGRESS_SESSION_LOG = (
    "meshlink event=session side=ingress link=%f client=%ci:%cp "
    "sni=%{+Q}[ssl_fc_sni] tls=%sslv verify=%[ssl_c_verify] "
    "san_verdict=%{+Q}[var(sess.meshlink_san_verdict)] "
    "client_sans=%{+Q}[var(sess.meshlink_client_sans)] state=%ts bytes_to_client=%B "
    "target_ssl_error=%{+Q}[ssl_bc_err_str]"
)
INGRESS_ERROR_LOG = (
    "meshlink event=error side=ingress link=%f client=%ci:%cp "
    "error=%{+Q}[fc_err_str] ssl_error=%{+Q}[ssl_fc_err_str] "
    "cert_error=%[ssl_c_err] ca_error=%[ssl_c_ca_err]"
)
EGRESS_SESSION_LOG = (
    "meshlink event=session side=egress link=%f client=%ci:%cp state=%ts "
    "bytes_to_client=%B server_ssl_error=%{+Q}[ssl_bc_err_str]"
)
EGRESS_ERROR_LOG = "meshlink event=error side=egress link=%f client=%ci:%cp error=%{+Q}[fc_err_str]"

_LOG_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line: str) -> dict[str, str] | None:
    """``meshlink a=1 b="x y"`` -> ``{"a": "1", "b": "x y"}``; None for other lines."""
    line = line.strip()
    if not line.startswith("meshlink "):
        return None
    out = {}
    for key, raw in _LOG_FIELD.findall(line[len("meshlink ") :]):
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        out[key] = "" if value == "-" else value
    return out


CLIENT_SAN_LUA = r"""-- Client certificate SAN check (HAProxy 2.6 has no sample fetch for SANs).
-- Reads ssl_c_der, walks the DER to the subjectAltName extension (2.5.29.17) and
-- compares each DNS, URI, e-mail and IP entry with the Gateway's subjectAltNames.

local allowed = {
%(allowed)s
}

local function unhex(text)
  return (text:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))
end

local sets = {}
for list, names in pairs(allowed) do
  local set = {}
  for _, name in ipairs(names) do set[unhex(name)] = true end
  sets[list] = set
end

local function tlv(der, pos, limit)
  local tag, len = der:byte(pos), der:byte(pos + 1)
  if not tag or not len then return nil end
  local start = pos + 2
  if len >= 0x80 then
    local count = len - 0x80
    if count < 1 or count > 4 then return nil end
    len = 0
    for i = 1, count do
      local byte = der:byte(pos + 1 + i)
      if not byte then return nil end
      len = len * 256 + byte
    end
    start = pos + 2 + count
  end
  local stop = start + len - 1
  if stop > limit then return nil end
  return tag, start, stop
end

local function children(der, first, last)
  local out, pos = {}, first
  while pos <= last do
    local tag, start, stop = tlv(der, pos, last)
    if not tag then return nil end
    out[#out + 1] = { tag = tag, s = start, e = stop }
    pos = stop + 1
  end
  return out
end

local function ip_text(raw)
  if #raw == 4 then return string.format("%%d.%%d.%%d.%%d", raw:byte(1, 4)) end
  if #raw == 16 then
    local groups = {}
    for i = 1, 16, 2 do
      groups[#groups + 1] = string.format("%%04x", raw:byte(i) * 256 + raw:byte(i + 1))
    end
    return table.concat(groups, ":")
  end
  return nil
end

local SAN_OID = "\85\29\17"

-- nil when the DER cannot be walked; otherwise the list of SAN strings (maybe empty).
local function subject_alt_names(der)
  local tag, s, e = tlv(der, 1, #der)
  if tag ~= 0x30 then return nil end
  local cert = children(der, s, e)
  if not cert or not cert[1] or cert[1].tag ~= 0x30 then return nil end
  local tbs = children(der, cert[1].s, cert[1].e)
  if not tbs then return nil end
  for _, item in ipairs(tbs) do
    if item.tag == 0xA3 then
      local wrapper = children(der, item.s, item.e)
      if not wrapper or not wrapper[1] then return nil end
      local extensions = children(der, wrapper[1].s, wrapper[1].e)
      if not extensions then return nil end
      for _, ext in ipairs(extensions) do
        local parts = children(der, ext.s, ext.e)
        if not parts or not parts[1] then return nil end
        if parts[1].tag == 0x06 and der:sub(parts[1].s, parts[1].e) == SAN_OID then
          local value = parts[#parts]
          if value.tag ~= 0x04 then return nil end
          local seq, gs, ge = tlv(der, value.s, value.e)
          if seq ~= 0x30 then return nil end
          local entries = children(der, gs, ge)
          if not entries then return nil end
          local names = {}
          for _, entry in ipairs(entries) do
            local raw = der:sub(entry.s, entry.e)
            if entry.tag == 0x81 or entry.tag == 0x82 or entry.tag == 0x86 then
              names[#names + 1] = raw
            elseif entry.tag == 0x87 then
              names[#names + 1] = ip_text(raw) or ""
            end
          end
          return names
        end
      end
      return {}
    end
  end
  return {}
end

core.register_action("meshlink_client_san", { "tcp-req" }, function(txn, list)
  local der = txn.f:ssl_c_der()
  local verdict, shown = "no-certificate", ""
  if der and #der > 0 then
    local names = subject_alt_names(der)
    if names == nil then
      verdict = "unreadable-certificate"
    else
      shown = table.concat(names, ",")
      verdict = "not-allowed"
      local set = sets[list]
      if set == nil then
        verdict = "allowed"
      else
        for _, name in ipairs(names) do
          if set[name] then verdict = "allowed"; break end
        end
      end
    end
  end
  txn:set_var("sess.meshlink_san_verdict", verdict)
  txn:set_var("sess.meshlink_client_sans", shown)
end, 1)
"""


def render_client_san_lua(allowed: Mapping[str, Sequence[str]]) -> str:
    """The Lua action, with each frontend's allowed SANs hex-encoded (nothing to escape).

    A frontend absent from ``allowed`` accepts any SAN (a Gateway without
    ``subjectAltNames``).
    """
    lines = []
    for frontend, names in sorted(allowed.items()):
        encoded = ", ".join(f'"{normalise_san(n).encode().hex()}"' for n in names)
        lines.append(f'  ["{frontend}"] = {{ {encoded} }},')
    return CLIENT_SAN_LUA % {"allowed": "\n".join(lines)}


@dataclass(frozen=True)
class TargetTLS:
    """The DestinationRule's TLS origination from the ingress gateway to a target."""

    ca_file: Path
    sni: str
    verify_host: str | None


@dataclass(frozen=True)
class IngressFrontend:
    """One MUTUAL Gateway server, listening on a loopback port."""

    name: str
    port: int
    crt_list: Path
    ca_file: Path
    min_version: str
    max_version: str
    backend_port: int
    hosts: tuple[str, ...]
    cipher_suites: tuple[str, ...] = ()
    allowed_sans: tuple[str, ...] = ()
    target_tls: TargetTLS | None = None


@dataclass(frozen=True)
class EgressFrontend:
    """One DestinationRule origination: plain TCP in, mutual TLS out to ``server_port``."""

    name: str
    port: int
    server_port: int
    crt: Path
    ca_file: Path
    sni: str
    verify_host: str


@dataclass(frozen=True)
class TargetFrontend:
    """A target that speaks TLS: terminates it with ``crt``, plain TCP to ``backend_port``."""

    name: str
    port: int
    crt: Path
    backend_port: int


@dataclass
class HaproxyConfig:
    lua: Path | None = None
    ingress: list[IngressFrontend] = field(default_factory=list)
    egress: list[EgressFrontend] = field(default_factory=list)
    targets: list[TargetFrontend] = field(default_factory=list)

    def text(self) -> str:
        return render_config(self)


def _q(value: str) -> str:
    """HAProxy arguments are whitespace-separated; refuse anything that would need quoting."""
    if not value or re.search(r"[\s\"'#\\]", value):
        raise ValueError(f"{value!r} cannot be written into an HAProxy configuration")
    return value


def crt_list_line(crt: Path, hosts: Sequence[str]) -> str:
    """Only the Gateway's hosts select the certificate: with ``strict-sni`` any other SNI
    fails the handshake, as no Envoy filter chain would match it. ``*`` means no filter."""
    filters = [] if "*" in hosts else [_q(h) for h in hosts]
    return " ".join([_q(str(crt)), *filters]) + "\n"


def _global_and_defaults(lua: Path | None) -> list[str]:
    out = [
        "global",
        "    log stderr format raw local0 info",
        "    ssl-server-verify required",
    ]
    if lua is not None:
        out.append(f"    lua-load {_q(str(lua))}")
    return [
        *out,
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout client-fin 2s",
        "    timeout server-fin 2s",
        "",
    ]


def _ingress_section(fe: IngressFrontend) -> list[str]:
    strict = "" if "*" in fe.hosts else " strict-sni"
    bind = (
        f"    bind 127.0.0.1:{fe.port} ssl crt-list {_q(str(fe.crt_list))}{strict}"
        f" verify required ca-file {_q(str(fe.ca_file))}"
        f" ssl-min-ver {HAPROXY_TLS_VERSION[fe.min_version]}"
        f" ssl-max-ver {HAPROXY_TLS_VERSION[fe.max_version]}"
    )
    if fe.cipher_suites:
        bind += f" ciphers {_q(':'.join(fe.cipher_suites))}"
    return [
        f"frontend {_q(fe.name)}",
        bind,
        f"    log-format {shlex.quote(INGRESS_SESSION_LOG)}",
        f"    error-log-format {shlex.quote(INGRESS_ERROR_LOG)}",
        f"    tcp-request content lua.meshlink_client_san {_q(fe.name)}",
        "    tcp-request content reject unless { var(sess.meshlink_san_verdict) -m str allowed }",
        f"    default_backend {_q(fe.name)}_target",
        "",
        f"backend {_q(fe.name)}_target",
        # One attempt: a refused target must show as refused, not as a retry later.
        "    retries 0",
        f"    server target 127.0.0.1:{fe.backend_port}{_target_tls(fe.target_tls)}",
        "",
    ]


def _target_tls(tls: TargetTLS | None) -> str:
    if tls is None:
        return ""
    out = f" ssl verify required ca-file {_q(str(tls.ca_file))}"
    if tls.sni:
        out += f" sni str({_q(tls.sni)})"
    if tls.verify_host:
        out += f" verifyhost {_q(tls.verify_host)}"
    return out


def _target_section(target: TargetFrontend) -> list[str]:
    return [
        f"frontend {_q(target.name)}",
        f"    bind 127.0.0.1:{target.port} ssl crt {_q(str(target.crt))}",
        f"    default_backend {_q(target.name)}_mariadb",
        "",
        f"backend {_q(target.name)}_mariadb",
        f"    server mariadb 127.0.0.1:{target.backend_port}",
        "",
    ]


def _egress_section(eg: EgressFrontend) -> list[str]:
    return [
        f"frontend {_q(eg.name)}",
        f"    bind 127.0.0.1:{eg.port}",
        f"    log-format {shlex.quote(EGRESS_SESSION_LOG)}",
        f"    error-log-format {shlex.quote(EGRESS_ERROR_LOG)}",
        f"    default_backend {_q(eg.name)}_link",
        "",
        f"backend {_q(eg.name)}_link",
        # One attempt: a refused server must show as refused, not as a retry later.
        "    retries 0",
        (
            f"    server ingress 127.0.0.1:{eg.server_port} ssl crt {_q(str(eg.crt))}"
            f" ca-file {_q(str(eg.ca_file))} verify required"
            f" verifyhost {_q(eg.verify_host)} sni str({_q(eg.sni)})"
            " ssl-min-ver TLSv1.2"
        ),
        "",
    ]


def render_config(config: HaproxyConfig) -> str:
    out = _global_and_defaults(config.lua)
    for fe in config.ingress:
        out += _ingress_section(fe)
    for eg in config.egress:
        out += _egress_section(eg)
    for target in config.targets:
        out += _target_section(target)
    return "\n".join(out)

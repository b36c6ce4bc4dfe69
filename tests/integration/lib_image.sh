# tests/integration/lib_image.sh — a test image with no registry (sourced, not run).
#
# make_busybox_tar OUT.tar [repo:tag] [seed]: writes a `docker save` archive (manifest.json, the
# image config <sha256>.json, repositories, and one layer <dir>/layer.tar) of Debian's
# busybox-static: bin/busybox, a relative symlink per applet (`busybox --install -s` would
# write host paths), and the usual top-level dirs. The default tag is busybox:latest; the
# config runs `sh` like Docker Hub's busybox. Deterministic: the same busybox binary gives the
# same image ID. With "seed" the layer also holds srv/seed/ (dir 0750 1000:1000; hello.txt 0640
# 1000:1001 "hello from the image"; link -> hello.txt; sub/deep.txt 0600; hard.txt, a hard link
# of hello.txt), for copy-up tests. Needs python3 and /bin/busybox (tests check with need_tool
# first).
# Writes only OUT.tar.

# shellcheck shell=bash

make_busybox_tar()
{
    local out=$1 ref=${2:-busybox:latest} seed=${3:-}
    python3 - "$out" "$ref" "$seed" <<'PY'
import hashlib, io, json, subprocess, sys, tarfile

out, ref, seed = sys.argv[1], sys.argv[2], sys.argv[3] == "seed"
MTIME = 1700000000

def add(t, name, kind, data=b"", link="", mode=0o755, uid=0, gid=0):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, MTIME, uid, gid
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "usr", "usr/bin"):
        add(t, d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
    add(t, "etc/passwd", tarfile.REGTYPE,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n", mode=0o644)
    add(t, "etc/group", tarfile.REGTYPE, b"root:x:0:\nnogroup:x:65534:\n", mode=0o644)
    with open("/bin/busybox", "rb") as f:
        add(t, "bin/busybox", tarfile.REGTYPE, f.read())
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, check=True,
                             text=True).stdout.split()
    for a in sorted(set(applets)):
        if a != "busybox":
            add(t, "bin/" + a, tarfile.SYMTYPE, link="busybox")
    if seed:
        add(t, "srv", tarfile.DIRTYPE)
        add(t, "srv/seed", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000)
        add(t, "srv/seed/hello.txt", tarfile.REGTYPE, b"hello from the image\n", mode=0o640,
            uid=1000, gid=1001)
        add(t, "srv/seed/hard.txt", tarfile.LNKTYPE, link="srv/seed/hello.txt")
        add(t, "srv/seed/link", tarfile.SYMTYPE, link="hello.txt")
        add(t, "srv/seed/sub", tarfile.DIRTYPE)
        add(t, "srv/seed/sub/deep.txt", tarfile.REGTYPE, b"deep\n", mode=0o600)
layer = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()

config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
    "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "make_busybox_tar"}],
}, separators=(",", ":"), sort_keys=True).encode()
cid = hashlib.sha256(config).hexdigest()
ldir = hashlib.sha256(layer).hexdigest()

repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
with tarfile.open(out, mode="w", format=tarfile.USTAR_FORMAT) as t:
    add(t, ldir, tarfile.DIRTYPE)
    add(t, ldir + "/layer.tar", tarfile.REGTYPE, layer, mode=0o644)
    add(t, cid + ".json", tarfile.REGTYPE, config, mode=0o644)
    add(t, "manifest.json", tarfile.REGTYPE, json.dumps(
        [{"Config": cid + ".json", "RepoTags": [repo + ":" + tag], "Layers": [ldir + "/layer.tar"]}]
    ).encode(), mode=0o644)
    add(t, "repositories", tarfile.REGTYPE, json.dumps({repo: {tag: ldir}}).encode(), mode=0o644)
print("sha256:" + cid)
PY
}

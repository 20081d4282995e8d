"""The reference for tests/tests/extract_reference.rs, independent of the Rust code under test.

build LAYOUT TAG REFERENCE_JSON
    Makes three layer tars with Python's tarfile (members described below), writes them as an OCI image layout
    (blobs, config, manifest, index.json naming TAG) into LAYOUT, then applies the layers in order to an in-memory
    filesystem model with the OCI whiteout rules and writes the resulting tree to REFERENCE_JSON.
read TAR OUT_JSON
    Reads a flattened tar (ours) with tarfile, applies its members in order to the same model (no whiteout may
    appear), and writes the resulting tree to OUT_JSON.

The model of applying a layer, as the OCI image spec ("Applying Changesets") and container runtimes do:
  1. the layer's whiteouts apply to what the lower layers made: `d/.wh.n` removes `d/n` and all below it,
     `d/.wh..wh..opq` removes all below `d`; other `.wh..wh.` names are ignored;
  2. then the layer's other members in order: a member replaces what is at its path (a directory over a directory
     only updates its metadata and keeps its content; anything else first removes the old path and all below it);
     a hard link is a copy of its target's record as it is at that moment (same inode), which must exist.
Each path's record: type (f d s h-as-f c b p), mode & 0o7777, uid, gid, mtime, size and sha256 of the content of a
file, the target of a symlink, and the SCHILY.xattr.* PAX records.
"""
import gzip
import hashlib
import json
import os
import sys
import tarfile


def norm(name):
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SystemExit(f"a .. in {name!r}")
    return "/".join(parts)


def split(path):
    d, _, b = path.rpartition("/")
    return d, b


def remove_tree(state, path):
    for k in list(state):
        if k == path or k.startswith(path + "/"):
            del state[k]


def record(ti, data):
    kinds = {tarfile.REGTYPE: "f", tarfile.AREGTYPE: "f", tarfile.DIRTYPE: "d", tarfile.SYMTYPE: "s",
             tarfile.CHRTYPE: "c", tarfile.BLKTYPE: "b", tarfile.FIFOTYPE: "p", tarfile.CONTTYPE: "f"}
    rec = {"type": kinds.get(ti.type, "?" + ti.type.decode()), "mode": ti.mode & 0o7777, "uid": ti.uid,
           "gid": ti.gid, "mtime": int(ti.mtime)}
    if rec["type"] == "f":
        rec["size"] = len(data)
        rec["sha256"] = hashlib.sha256(data).hexdigest()
    if ti.issym():
        rec["link"] = ti.linkname
    xattrs = {k: v for k, v in ti.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    if xattrs:
        rec["xattrs"] = xattrs
    return rec


def add(state, ti, data, where):
    path = norm(ti.name)
    if not path:
        return
    if ti.islnk():
        target = norm(ti.linkname)
        if target not in state:
            raise SystemExit(f"{where}: hard link {path} -> {target}: no such target yet")
        rec = dict(state[target])
    else:
        rec = record(ti, data)
    old = state.get(path)
    if old is not None and not (old["type"] == "d" and rec["type"] == "d"):
        remove_tree(state, path)
    state[path] = rec


def members(tar_bytes):
    import io
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for ti in tf:
            data = tf.extractfile(ti).read() if ti.isreg() else b""
            out.append((ti, data))
    return out


def apply_layer(state, tar_bytes, where):
    ms = members(tar_bytes)
    for ti, _ in ms:
        d, b = split(norm(ti.name))
        if b == ".wh..wh..opq":
            for k in list(state):
                if not d or k.startswith(d + "/"):
                    del state[k]
        elif b.startswith(".wh..wh."):
            pass
        elif b.startswith(".wh."):
            remove_tree(state, (d + "/" if d else "") + b[4:])
    for ti, data in ms:
        if split(norm(ti.name))[1].startswith(".wh."):
            continue
        add(state, ti, data, where)


# ------------------------------------------------------------------------------------------------------------------
# the layers

def blob(size, seed):
    """Deterministic bytes that compress somewhat."""
    out = bytearray()
    x = seed
    while len(out) < size:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out += (b"line %d of %d: " % (x >> 40, seed)) + bytes([97 + (x >> 60)]) * ((x >> 32) % 40) + b"\n"
    return bytes(out[:size])


def layer_tar(entries, prefix=""):
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind, name = e[0], prefix + e[1]
            opts = e[-1] if isinstance(e[-1], dict) else {}
            ti = tarfile.TarInfo(name)
            ti.mtime = opts.get("mtime", 1_600_000_000)
            ti.uid = opts.get("uid", 0)
            ti.gid = opts.get("gid", 0)
            ti.uname = ti.gname = "root" if ti.uid == 0 else "user"
            data = None
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = opts.get("mode", 0o755)
            elif kind == "file":
                data = e[2]
                ti.type = tarfile.REGTYPE
                ti.mode = opts.get("mode", 0o644)
                ti.size = len(data)
            elif kind in ("sym", "link"):
                ti.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                ti.linkname = e[2]
                ti.mode = 0o777 if kind == "sym" else 0o644
            elif kind == "wh":
                ti.type = tarfile.REGTYPE
                ti.mode = 0o600
            if "xattrs" in opts:
                ti.pax_headers = dict(opts["xattrs"])
            import io as _io
            tf.addfile(ti, _io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def layers():
    deep = "/".join(f"deep{i}" for i in range(30))
    deep_dirs = [("dir", "/".join(f"deep{i}" for i in range(j + 1))) for j in range(30)]
    long_dir = "long/" + "n" * 120
    long_file = long_dir + "/" + "f" * 150
    l1 = [
        ("dir", "etc"), ("file", "etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        ("file", "etc/hosts", b"127.0.0.1 localhost\n"),
        ("dir", "usr"), ("dir", "usr/bin"),
        ("file", "usr/bin/tool", blob(200_000, 1), {"mode": 0o4755}),
        ("link", "usr/bin/tool2", "usr/bin/tool"), ("sym", "usr/bin/sh", "tool"),
        ("dir", "opt"), ("dir", "opt/old"), ("file", "opt/old/a", b"old a\n"),
        ("dir", "var"), ("dir", "var/lib"), ("dir", "var/lib/app", {"mode": 0o700}),
        ("file", "var/lib/app/cache1", blob(5000, 2)), ("dir", "var/lib/app/sub"),
        ("file", "var/lib/app/sub/x", b"x\n"),
        ("dir", "replaced"), ("file", "replaced/f", b"first version\n"),
        ("dir", "dirsym"), ("file", "dirsym/in", b"inside a dir that becomes a symlink\n"),
        ("sym", "symdir", "etc"),
        ("dir", "long"), ("dir", long_dir), ("file", long_file, b"a long name\n"),
        *deep_dirs, ("file", deep + "/leaf", b"deep\n"),
        ("dir", "home"), ("dir", "home/user", {"uid": 1000, "gid": 1000, "mode": 0o750}),
        ("file", "home/user/.profile", b"export A=1\n", {"uid": 1000, "gid": 1000, "mtime": 1_234_567_890}),
        ("file", "cap", b"capable\n", {"xattrs": {"SCHILY.xattr.user.note": "kept"}}),
        ("file", "empty", b""),
        ("dir", "lib"), ("file", "lib/libx.so.1", blob(30_000, 4), {"mode": 0o755}),
        ("link", "lib/libx-link", "lib/libx.so.1"), ("link", "lib/libx-link2", "lib/libx.so.1"),
        ("dir", "share"), ("file", "share/doc", b"documentation\n"), ("link", "share/doc-link", "share/doc"),
    ]
    l2 = [
        ("wh", "etc/.wh.passwd"), ("file", "etc/hosts", b"10.0.0.1 changed\n", {"mode": 0o600}),
        ("dir", "var/lib/app", {"mode": 0o750}), ("wh", "var/lib/app/.wh..wh..opq"),
        ("file", "var/lib/app/new", b"after the opaque marker\n"),
        ("file", "replaced/f", b"second version\n"),
        ("sym", "dirsym", "/usr"),
        ("dir", "symdir", {"mode": 0o750}), ("file", "symdir/x", b"a dir where a symlink was\n"),
        ("link", "usr/bin/tool3", "usr/bin/tool"),
        ("wh", "opt/.wh.old"),
        ("wh", ".wh.does-not-exist"),
        ("wh", "share/.wh.doc"),
    ]
    l3 = [
        ("dir", "opt/old", {"mode": 0o711}), ("file", "opt/old/new", b"recreated\n"),
        ("file", "dup", b"first of two in one layer\n"), ("file", "dup", b"second of two in one layer\n"),
        ("dir", "l3"), ("file", "l3/a", blob(70_000, 3)), ("link", "l3/b", "l3/a"),
        ("wh", "etc/.wh..wh.plnk"),
        ("file", "replaced/f", b"third version\n", {"mode": 0o640}),
        ("file", "lib/libx.so.1", blob(31_000, 5), {"mode": 0o755}),
    ]
    # Layer 2 is written the way `tar -C dir .` names members: with a leading "./".
    return [(layer_tar(l1), True), (layer_tar(l2, prefix="./"), False), (layer_tar(l3), True)]


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest


def build(layout, tag, reference_json):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids, state = [], [], {}
    for i, (tar, gz) in enumerate(layers()):
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        stored = gzip.compress(tar, mtime=0) if gz else tar
        mt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
        descs.append({"mediaType": mt, "digest": write_blob(layout, stored), "size": len(stored)})
        apply_layer(state, tar, f"layer {i + 1}")
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": write_blob(layout, config),
                   "size": len(config)},
        "layers": descs}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": write_blob(layout, manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(reference_json, "w") as f:
        json.dump(state, f, sort_keys=True)


def read(tar_path, out_json):
    with open(tar_path, "rb") as f:
        data = f.read()
    state = {}
    for ti, body in members(data):
        if ".wh." in split(norm(ti.name))[1]:
            raise SystemExit(f"the flattened tar holds a whiteout: {ti.name}")
        add(state, ti, body, "flattened tar")
    with open(out_json, "w") as f:
        json.dump(state, f, sort_keys=True)


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: reference.py build LAYOUT TAG REFERENCE_JSON | read TAR OUT_JSON")

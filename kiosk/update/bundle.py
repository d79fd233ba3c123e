"""The update bundle: the kiosk's code and models in one file, signed with ed25519.

    MAGIC (11 bytes) | manifest length (4 bytes, big-endian) | manifest (JSON) | signature (64 bytes) | payload

The signature covers MAGIC, the length and the manifest; the manifest names the payload's size and
SHA-256, so one signature covers every byte. The payload is a gzipped tar: `packages/<name>/...`
(the Python packages the installer puts into the venv), `onnx_models/...` and `docs/*.md` (the docs
the units' Documentation= lines name; each slot has its own).

Versions are numbers and dots ("0.10.0" is newer than "0.9.0"): the booth installs only a version
newer than the one it runs, so an old signed bundle (a known-bad version) cannot be put back with a
stick. Going back on purpose is signed too: `downgrade_from` in the manifest names the one version
the bundle may replace although it is not newer (`fse-update build --downgrade-from`).

Reading is in the order an attacker cannot exploit: the header and signature are read and checked
against the booth's keys before a byte of the manifest is parsed; then the payload is copied to the
booth's own disk while hashed, and only a copy whose size and hash match is ever opened (the stick
could change, or be pulled, after the check). A file that is changed, cut short, longer, or signed by
another key is refused before anything on the booth changes.

Keys: PEM files, as `fse-update keygen` or OpenSSL writes them (`openssl genpkey -algorithm ed25519`,
`openssl pkey -pubout`); the booth trusts every `*.pem` in /etc/fse/update-keys/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from contract.models import MODELS_FOLDER

MAGIC = b"FSE-UPDATE\n"
FORMAT = 1
MAX_MANIFEST = 64 * 1024
SIGNATURE_SIZE = 64
KEY_DIR = Path("/etc/fse/update-keys")
CHUNK = 1 << 20
DOCS_FOLDER = "docs"
PAYLOAD_FOLDERS = ("packages", MODELS_FOLDER, DOCS_FOLDER)
"""The payload's top-level folders; nothing else is unpacked."""
VERSION = re.compile(r"\d{1,9}(\.\d{1,9}){0,3}")
"""What a bundle's version may be: one to four numbers with dots, as pyproject.toml's (0.1.0)."""


class BundleError(Exception):
    """A bundle that is refused; the message says why and what the operator can do, `screen` says
    why in the few words a toast on the booth's screen holds."""

    def __init__(self, message: str, screen: str | None = None) -> None:
        super().__init__(message)
        self.screen = screen


@dataclass(frozen=True)
class Manifest:
    """What a verified bundle says about itself."""

    version: str
    created_utc: str
    payload_size: int
    payload_sha256: str
    scripts: dict  # console script name -> "module:function", as pyproject.toml's [project.scripts]
    signed_by: str  # the key file on the booth that verified it
    header_size: int  # where the payload starts in the bundle file
    downgrade_from: str | None = None  # the one running version this bundle may replace though not newer

    @classmethod
    def parse(cls, data: bytes, signed_by: str, header_size: int) -> Manifest:
        try:
            fields = json.loads(data)
            if fields["format"] != FORMAT:
                raise BundleError(
                    f"the bundle is format {fields['format']}, this booth reads format {FORMAT}: "
                    f"build it with the fse-update of the version the booth runs",
                    "a bundle format this booth cannot read",
                )
            return cls(
                version=str(fields["version"]),
                created_utc=str(fields["created_utc"]),
                payload_size=int(fields["payload"]["size"]),
                payload_sha256=str(fields["payload"]["sha256"]),
                scripts={str(k): str(v) for k, v in fields["scripts"].items()},
                signed_by=signed_by,
                header_size=header_size,
                downgrade_from=None if fields.get("downgrade_from") is None else str(fields["downgrade_from"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BundleError(f"the bundle's manifest is signed but not readable ({e!r}); build it again") from None


def version_key(version: str) -> tuple[int, ...]:
    """A version as numbers to compare: "0.10.0" > "0.9.0", "1.0" == "1.0.0". BundleError if it is not one."""
    if not VERSION.fullmatch(version):
        raise BundleError(
            f"{version!r} is not a version fse-update can compare: one to four numbers with dots, e.g. 0.2.0",
            f"its version {version[:20]!r} is not a version number",
        )
    numbers = [int(n) for n in version.split(".")]
    return tuple(numbers + [0] * (4 - len(numbers)))


# -- keys ---------------------------------------------------------------------------------------------


def generate_key(private_path: Path) -> Path:
    """A new ed25519 key pair: the private key (0600) at private_path, the public one beside it (.pub.pem)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public_path = private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")
    public_path.write_bytes(public)
    return public_path


def _load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise BundleError(
            f"{path} is not an unencrypted PEM private key ({e}); make one with fse-update keygen"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} is not an ed25519 key; make one with fse-update keygen")
    return key


def trusted_keys(key_dir: Path = KEY_DIR) -> dict[str, object]:
    """The booth's public keys by file name; an unreadable file is an error (a key must not vanish silently)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {}
    for path in sorted(key_dir.glob("*.pem")) if key_dir.is_dir() else []:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (ValueError, OSError) as e:
            raise BundleError(
                f"the update key {path} cannot be read ({e}); reinstall it with make install-appliance"
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise BundleError(f"the update key {path} is not an ed25519 public key; reinstall the right one")
        keys[path.name] = key
    if not keys:
        raise BundleError(
            f"this booth has no update key in {key_dir}, so it accepts no update: install the operator's "
            f"public key with FSE_UPDATE_KEYS=<file.pub.pem> make install-appliance",
            "this booth has no update key",
        )
    return keys


# -- writing ------------------------------------------------------------------------------------------


def _payload(packages: dict[str, Path], models: Path, docs: Path) -> bytes:
    """The gzipped tar of the packages, models and docs; owners root, times and order fixed (same input, same bytes)."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if "__pycache__" in info.name or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
        for name, path in sorted(packages.items()):
            tar.add(path, f"packages/{name}", filter=clean)
        tar.add(models, MODELS_FOLDER, filter=clean)
        tar.add(docs, DOCS_FOLDER, recursive=False, filter=clean)
        for doc in sorted(docs.glob("*.md")):  # the installer's docs: the pages, not their images
            tar.add(doc, f"{DOCS_FOLDER}/{doc.name}", filter=clean)
    return out.getvalue()


def write_bundle(
    out: Path,
    private_key: Path,
    version: str,
    packages: dict[str, Path],
    models: Path,
    docs: Path,
    scripts: dict,
    downgrade_from: str | None = None,
) -> Manifest:
    """Build and sign a bundle at `out` (written beside it and renamed: never a half bundle)."""
    key = _load_private(private_key)
    payload = _payload(packages, models, docs)
    manifest = json.dumps(
        {
            "format": FORMAT,
            "version": version,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "payload": {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()},
            "scripts": scripts,
            "downgrade_from": downgrade_from,
        },
        indent=1,
    ).encode()
    header = MAGIC + struct.pack(">I", len(manifest)) + manifest
    temp = out.with_name(out.name + ".part")
    with open(temp, "wb") as f:
        f.write(header + key.sign(header) + payload)
    os.replace(temp, out)
    return Manifest.parse(manifest, private_key.name, len(header) + SIGNATURE_SIZE)


# -- reading ------------------------------------------------------------------------------------------


def _read_exactly(f, size: int, what: str) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise BundleError(
            f"the bundle ends inside its {what} (cut short: copy it onto the stick again)", "the file is cut short"
        )
    return data


def verify_header(f, keys: dict[str, object]) -> Manifest:
    """Read and check the signed header of an open bundle; returns its manifest. Nothing of the
    manifest is parsed before its signature has been checked."""
    from cryptography.exceptions import InvalidSignature

    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise BundleError(
            "this file is not an fse-update bundle (make one with fse-update build)", "not an update file"
        )
    (length,) = struct.unpack(">I", _read_exactly(f, 4, "header"))
    if length > MAX_MANIFEST:
        raise BundleError(f"the bundle's manifest claims {length} bytes (at most {MAX_MANIFEST}): not a bundle")
    manifest = _read_exactly(f, length, "manifest")
    signature = _read_exactly(f, SIGNATURE_SIZE, "signature")
    signed = MAGIC + struct.pack(">I", length) + manifest
    for name, key in keys.items():
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            continue
        return Manifest.parse(manifest, name, len(signed) + SIGNATURE_SIZE)
    raise BundleError(
        "the update is not signed by a key this booth trusts, or it was changed after signing "
        f"(trusted: {', '.join(keys)}): sign it with the booth's key "
        "(fse-update build --key ...)",
        "not signed with this booth's key",
    )


def copy_payload(f, manifest: Manifest, dest: Path) -> None:
    """Copy the payload that follows the header to `dest` (fsynced), hashing it on the way; a payload
    of another size or hash is refused and `dest` removed. An OSError (a pulled stick) passes through."""
    digest = hashlib.sha256()
    left = manifest.payload_size
    try:
        with open(dest, "xb") as out:
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise BundleError(
                        f"the bundle is cut short ({manifest.payload_size - left} of {manifest.payload_size} "
                        "payload bytes): copy it onto the stick again",
                        "the file is cut short",
                    )
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            if f.read(1):
                raise BundleError(
                    "the bundle has bytes after its payload (changed after signing): build it again",
                    "changed after signing",
                )
            if digest.hexdigest() != manifest.payload_sha256:
                raise BundleError(
                    "the update's contents do not match its signature (changed or damaged after signing): "
                    "copy the bundle onto the stick again",
                    "changed or damaged after signing",
                )
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def verify_file(bundle: Path, keys: dict[str, object]) -> Manifest:
    """Check a whole bundle file (header, signature, payload hash) without installing it."""
    with open(bundle, "rb") as f:
        manifest = verify_header(f, keys)
        _hash_rest(f, manifest)
    return manifest


def _hash_rest(f, manifest: Manifest) -> None:
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size != manifest.payload_size or digest.hexdigest() != manifest.payload_sha256:
        raise BundleError(
            f"the payload is {size} bytes with another hash than the signed {manifest.payload_size}: "
            "changed, cut short or damaged after signing"
        )


def unpack_payload(payload: Path, dest: Path) -> None:
    """Unpack a verified payload: only regular files and folders, only below `dest`, owned by root,
    mode 0644/0755 (the signature vouches for the contents; this keeps a mistake in a bundle from
    writing outside its slot)."""
    with tarfile.open(payload, "r:gz") as tar:
        for member in tar:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or path.parts[0] not in PAYLOAD_FOLDERS:
                raise BundleError(f"the bundle holds {member.name!r}, outside what an update may write")
            target = dest / path
            if member.isdir():
                target.mkdir(mode=0o755, parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "xb") as out:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                os.chmod(target, 0o644)
            else:
                raise BundleError(f"the bundle holds {member.name!r}, which is not a file or folder")

"""Copy the real-world benchmark files out of local git snapshots, never from the network.

The corpus is third-party code, so the repository only records where each file comes from
(`manifest*.json`: repo, commit, path). This script rebuilds the ignored folder `files/` from git
snapshots already on this machine (as the `fetch` tool leaves them: `<root>/<owner>+<name>/...`
holding a bare git directory or a `.git`), reading each file at its recorded commit, so that a
labelled line number always points at the code that was labelled.

Layout written (what `score.py` reads):
  files/<id>/<basename>              a single script or notebook
  files/<project>/<path in repo>     every file of a multi-file project, in one folder with its
                                     relative paths, so imports between its modules resolve
  files/<project>/.git/              an empty folder standing for the repository's own `.git`: it
                                     marks the project root, as in the real checkout, so that absolute
                                     imports (`from models.x import f` in `train/train.py`) resolve from
                                     there and not from the featlint checkout around `files/`

Repositories that are missing, or lack the recorded commit, are listed at the end: bring them with
the `fetch` tool and run this again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MIRROR_ROOT = Path("/work/.mirror")


def load_entries(folder: Path, manifest: Path | None) -> list[dict]:
    """Every entry of every `manifest*.json` in `folder` (or of the one given), in file order."""
    paths = [manifest] if manifest else sorted(folder.glob("manifest*.json"))
    entries: list[dict] = []
    for path in paths:
        entries.extend(json.loads(path.read_text(encoding="utf-8"))["files"])
    return entries


def target_path(files_dir: Path, entry: dict) -> Path:
    """Where an entry's file lives under `files/` (see the module docstring)."""
    if entry.get("project"):
        return files_dir / entry["project"] / entry["path"]
    return files_dir / entry["id"] / Path(entry["path"]).name


def find_git_dirs(mirror_root: Path, repo: str) -> list[Path]:
    """Git directories of the snapshots of `repo` (owner/name) under `mirror_root`.

    `fetch` names a snapshot folder `<owner>+<name>` and puts either a bare repository or a work tree
    with `.git` somewhere inside it, so every candidate found by globbing is returned.
    """
    base = mirror_root / repo.replace("/", "+")
    if not base.is_dir():
        return []
    found: list[Path] = []
    for head in sorted(base.glob("**/HEAD")):
        git_dir = head.parent
        if (git_dir / "objects").is_dir() and git_dir not in found:
            found.append(git_dir)
    return found


def read_blob(git_dirs: list[Path], commit: str, path: str) -> bytes | None:
    """The file's bytes at `commit`, from the first snapshot that has it; None if none has."""
    for git_dir in git_dirs:
        result = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", type=Path, default=DEFAULT_MIRROR_ROOT,
                        help="folder holding <owner>+<name> snapshots (default: %(default)s)")
    parser.add_argument("--manifest", type=Path, help="one manifest instead of every manifest*.json")
    parser.add_argument("--files", type=Path, default=HERE / "files", help="output folder")
    args = parser.parse_args(argv)

    entries = load_entries(HERE, args.manifest)
    missing_repos: dict[str, str] = {}
    missing_files: list[str] = []
    copied = 0
    for entry in entries:
        git_dirs = find_git_dirs(args.mirror_root, entry["repo"])
        if not git_dirs:
            missing_repos[entry["repo"]] = "no snapshot"
            continue
        data = read_blob(git_dirs, entry["commit"], entry["path"])
        if data is None:
            missing_files.append(f"{entry['id']}: {entry['repo']}@{entry['commit'][:12]}:{entry['path']}")
            continue
        out = target_path(args.files, entry)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        if entry.get("project"):
            (args.files / entry["project"] / ".git").mkdir(exist_ok=True)
        copied += 1

    print(f"copied {copied} of {len(entries)} files into {args.files}")
    if missing_repos:
        print("\nrepositories to bring with the fetch tool (github:<owner>/<name>):")
        for repo in sorted(missing_repos):
            print(f"  {repo}")
    if missing_files:
        print("\nfiles not found at their commit (snapshot too new or file too large for it):")
        for line in missing_files:
            print(f"  {line}")
    return 1 if (missing_repos or missing_files) else 0


if __name__ == "__main__":
    sys.exit(main())

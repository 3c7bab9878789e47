"""Training-code audit: lint the training scripts, examples and notebooks of popular public repositories with
every rule (ALL), as a new user would, and report internal errors and findings per rule for a person to judge.

The library audit (audit_corpus.py) reads torch, torchvision and timm, where training idioms are rare; this one
reads the code featlint's users write and copy. Each repository is pinned by commit below. Nothing is fetched
from the network: the repositories must already be bare git mirrors (by default under /work/.mirror, one
`owner+name/repo` directory each); the files of the pinned commit are exported with `git archive` into
CORPUS_DIR (ignored by git), and every notebook's code cells become a `.ipynb.py` file next to it (IPython
magics and shell lines commented out). Repositories without a mirror are reported and skipped.

Run: python benchmarks/audit_training.py [--mirrors DIR] [--jobs N] [--findings FILE] [--repo NAME ...]
Prints files, seconds, internal errors, statements the model story gave up on (an exception inside the interpreter
made them unknown: not an error for the user, but a shape to handle) and findings per code for each repository,
then every internal error and given-up statement;
writes every finding (with its source line) to FILE as JSON lines. Exits 1 when any internal error occurred.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from audit_corpus import source_line  # this script's folder is on sys.path when it runs
from featlint.config import Overrides, SettingsResolver
from featlint.running.session import RunResult, run

_CAPTURE = re.compile(r"\s*[\w, ]+=\s*[!%]")  # `files = !ls`: IPython captures a command's output
CORPUS_DIR = Path(__file__).resolve().parent / ".training_corpus"


@dataclasses.dataclass(frozen=True)
class Repository:
    name: str  # owner/name on GitHub
    commit: str
    paths: tuple[str, ...] = ()  # its training code: folders or files from the root; () is all of it


REPOSITORIES = (
    Repository("pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8"),
    Repository("huggingface/peft", "5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40", ("examples",)),
    Repository("huggingface/pytorch-image-models", "aa4b5850c1543fa488abf260f18390eda46cf85d",
               ("train.py", "validate.py", "inference.py", "benchmark.py", "avg_checkpoints.py",
                "clean_checkpoint.py", "bulk_runner.py", "onnx_export.py", "onnx_validate.py", "hubconf.py")),
    Repository("Lightning-AI/pytorch-lightning", "7f0c3436cd3f6ad3753125672024fc415cbcb414", ("examples",)),
    Repository("d2l-ai/d2l-pytorch-colab", "f8543710a7046a947464f0fa3ad0f8619d7613d3"),
    Repository("d2l-ai/d2l-en", "23d7a5aecceee57d1292c56e90cce307f183bb0a", ("d2l/torch.py",)),
    # Widely followed courses whose notebooks teach transfer learning.
    Repository("mrdbourke/pytorch-deep-learning", "baa27b691617461c173ecf3439793cd8cde74e13"),
    Repository("udacity/deep-learning-v2-pytorch", "c9404fc86181fc3f0906b368697268257f348535"),
    Repository("bentrevett/pytorch-image-classification", "33c9cfdb9097bc65b5800c1996f199f0ba520888"),
)
# Not here: huggingface/transformers (examples/pytorch) and pytorch/tutorials, whose snapshots (1.3 GB and
# 5.3 GB) are larger than this machine's mirror tool brings over (500 MB).


def mirror(mirrors: Path, repository: Repository) -> Path:
    return mirrors / repository.name.replace("/", "+") / "repo"


def export(repository: Repository, git_dir: Path) -> Path:
    """The pinned commit's training files under CORPUS_DIR (exported once; a later run reuses them)."""
    target = CORPUS_DIR / repository.name.replace("/", "+") / repository.commit[:12]
    if target.is_dir():
        return target
    git = ["git", f"--git-dir={git_dir}"]
    # Only the Python files and notebooks: a mirror may lack the large data files' blobs.
    listed = subprocess.run([*git, "ls-tree", "-r", "--name-only", "-z", repository.commit, "--", *repository.paths],
                            check=True, capture_output=True).stdout.decode().split("\0")
    wanted = [name for name in listed if name.endswith((".py", ".ipynb"))]
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for name in wanted:
        # One at a time: a snapshot may lack some large files' contents, which are then left out (and counted).
        shown = subprocess.run([*git, "show", f"{repository.commit}:{name}"], capture_output=True)
        if shown.returncode != 0:
            print(f"{repository.name}: {name} is not in the mirror, left out")
            continue
        path = partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shown.stdout)
    for notebook in partial.rglob("*.ipynb"):
        notebook.with_name(notebook.name + ".py").write_text(notebook_code(notebook), encoding="utf-8")
        notebook.unlink()
    partial.rename(target)
    return target


def notebook_code(notebook: Path) -> str:
    """The code cells of a notebook as one script; IPython-only lines become comments so the file parses."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (ValueError, UnicodeDecodeError):
        return ""
    chunks = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        # IPython removes a cell's common indentation before running it.
        lines = textwrap.dedent(source if isinstance(source, str) else "".join(source)).splitlines()
        if lines and lines[0].startswith("%%"):  # a cell magic: the whole cell is another language
            chunks.append("\n".join(f"# {line}" for line in lines))
            continue
        kept, continued = [], False
        for line in lines:  # a shell or magic line, and the lines it continues with a backslash
            shell = continued or line.lstrip().startswith(("%", "!")) or _CAPTURE.match(line) is not None
            kept.append(f"# {line}" if shell else line)
            continued = shell and line.rstrip().endswith("\\")
        chunks.append("\n".join(kept))
    return "\n\n".join(chunks) + "\n"


def lint(directory: Path, jobs: int) -> RunResult:
    resolver = SettingsResolver(Overrides(select=("ALL",), exclude=()), cwd=directory)
    return run([directory], resolver, jobs=jobs, cache=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repo", action="append", help="owner/name; default: every repository listed")
    parser.add_argument("--findings", type=Path, default=Path("audit_training_findings.jsonl"),
                        help="where to write every finding (JSON lines)")
    args = parser.parse_args()
    chosen = [r for r in REPOSITORIES if not args.repo or r.name in args.repo]
    totals = collections.Counter[str]()
    files = error_files = 0
    errors: list[str] = []
    given_up: list[str] = []  # statements the model story treated as unknown after an exception (none is the bar)
    with args.findings.open("w", encoding="utf-8") as out:
        for repository in chosen:
            git_dir = mirror(args.mirrors, repository)
            if not git_dir.is_dir():
                print(f"{repository.name}: no mirror at {git_dir}, skipped")
                continue
            directory = export(repository, git_dir)
            start = time.perf_counter()
            result = lint(directory, args.jobs)
            seconds = time.perf_counter() - start
            per_code = collections.Counter(d.code for d in result.diagnostics)
            totals.update(per_code)
            files += len(result.files)
            failed = {e.path for e in result.errors}
            error_files += len(failed)
            # getattr: the script also measures featlint versions from before FileResult.unhandled existed.
            unhandled = [u for f in result.files for u in getattr(f, "unhandled", [])]
            given_up.extend(f"{repository.name}: {u}" for u in unhandled)
            errors.extend(f"{repository.name}: {error}" for error in result.errors)
            codes = ", ".join(f"{code} {count}" for code, count in sorted(per_code.items())) or "none"
            print(f"{repository.name}@{repository.commit[:12]}: {len(result.files)} files in {seconds:.1f} s; "
                  f"internal errors {len(result.errors)} in {len(failed)} files; "
                  f"statements the story gave up on {len(unhandled)}; "
                  f"findings {sum(per_code.values())} ({codes})")
            for d in result.diagnostics:
                record = {"repo": repository.name, "commit": repository.commit, "path": d.path,
                          "row": d.start.row, "column": d.start.column, "code": d.code, "message": d.message,
                          "line": source_line(result, d.path, d.start.row)}
                out.write(json.dumps(record) + "\n")
    codes = ", ".join(f"{code} {count}" for code, count in sorted(totals.items())) or "none"
    print(f"total: {files} files; internal errors {len(errors)} in {error_files} files; statements the story "
          f"gave up on {len(given_up)}; findings {sum(totals.values())} ({codes})")
    for error in errors:
        print(f"  error: {error}")
    for statement in given_up:
        print(f"  gave up: {statement}")
    print(f"findings written to {args.findings}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()

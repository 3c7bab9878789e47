#!/usr/bin/env bash
# The runtime checker's tests under the lowest torch/torchvision the `runtime` extra allows (pyproject.toml).
# Not run by CI: it downloads a CUDA build of torch from PyPI (~2.5 GB, a few minutes). Usage:
#   scripts/test_runtime_floor.sh [VENV] [TORCH] [TORCHVISION]     (defaults: /work/venv-floor 2.1.0 0.16.0)
# Creates VENV with python3.11 if it does not exist, installs torch/torchvision at exactly those versions
# (numpy<2: torch < 2.3 was built against numpy 1 and says "Numpy is not available" under numpy 2), featlint
# from this checkout without dependencies plus what the tests import, then runs tests/test_runtime*.py.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-/work/venv-floor}"
torch_version="${2:-2.1.0}"
torchvision_version="${3:-0.16.0}"
[ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
"$venv/bin/pip" install -q "torch==$torch_version" "torchvision==$torchvision_version" "numpy<2" \
    pytest "libcst>=1.1" "click>=8.1" jsonschema
"$venv/bin/pip" install -q --no-deps -e .
"$venv/bin/python" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
# The tests' child processes run `$venv/bin/python -m featlint` with this checkout first on PYTHONPATH.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_runtime_audit.py tests/test_runtime_run.py \
    tests/test_runtime_project.py tests/test_runtime_hostile.py tests/test_runtime_rules_docs.py \
    tests/test_runtime_frameworks.py "${@:4}"

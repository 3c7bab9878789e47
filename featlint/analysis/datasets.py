"""How many classes torchvision's classification data sets have, for the rules that compare a head's output
size with the data (FL306). `ImageFolder` and the data sets whose classes depend on files or arguments
(EMNIST's split, CelebA's attributes) are not here: their count is unknown, and unknown keeps rules silent.
"""

from __future__ import annotations

from featlint.analysis.calls import keyword
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst

_MODULE = "torchvision.datasets"
# Classes with the default arguments (CIFAR100's are its 100 fine labels).
CLASS_COUNTS = {
    "MNIST": 10, "FashionMNIST": 10, "KMNIST": 10, "QMNIST": 10, "CIFAR10": 10, "CIFAR100": 100, "SVHN": 10,
    "STL10": 10, "USPS": 10, "SEMEION": 10, "EuroSAT": 10, "Imagenette": 10, "Food101": 101, "Flowers102": 102,
    "GTSRB": 43, "DTD": 47, "Country211": 211, "SUN397": 397, "StanfordCars": 196, "PCAM": 2, "RenderedSST2": 2,
    "FER2013": 7, "OxfordIIITPet": 37, "FGVCAircraft": 100, "Caltech101": 101, "Caltech256": 257,
    "Places365": 365, "ImageNet": 1000,
}
# Arguments that change what a data set's targets are (and so how many classes there are).
_TARGET_ARGUMENTS = ("target_transform", "target_types", "target_type", "annotation_level")


def dataset_name(names: NameResolver, call: cst.Call, scope: Scope) -> str | None:
    """The class name of the torchvision data set a call builds (`CIFAR10`), or None."""
    qualified = names.call_name(call, scope)
    if qualified is None:
        return None
    module, _, name = qualified.rpartition(".")
    return name if module == _MODULE or module.startswith(f"{_MODULE}.") else None


def class_count(names: NameResolver, call: cst.Call, scope: Scope) -> int | None:
    """The number of classes of the torchvision data set the call builds, when its arguments leave the targets
    as they are; None for any other call and for data sets whose classes featlint cannot tell."""
    name = dataset_name(names, call, scope)
    if name is None or name not in CLASS_COUNTS:
        return None
    if any(keyword(call, argument) is not None for argument in _TARGET_ARGUMENTS):
        return None
    return CLASS_COUNTS[name]

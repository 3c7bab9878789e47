"""`featlint run --fake-data`: torchvision datasets that cannot be loaded become random images.

A dataset class's `__init__`, `__getitem__` and `__len__` are wrapped in place (so `isinstance` and
subclasses of `ImageFolder` keep working): when the real constructor fails (no files, a download that the network guard refuses), the
instance is turned into a small set of random images of the dataset's own image size and class count. For
folder datasets the class count is read from the script (`num_classes`, `NUM_CLASSES`, `n_classes` where
the dataset is created), else 2.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

FAKE_SIZE = 32  # images per fake dataset: enough for a few batches, cheap to generate

# torchvision dataset -> (channels, height, width), classes; None where the script must say.
KNOWN: dict[str, tuple[tuple[int, int, int], int | None]] = {
    "CIFAR10": ((3, 32, 32), 10), "CIFAR100": ((3, 32, 32), 100), "SVHN": ((3, 32, 32), 10),
    "MNIST": ((1, 28, 28), 10), "FashionMNIST": ((1, 28, 28), 10), "KMNIST": ((1, 28, 28), 10),
    "QMNIST": ((1, 28, 28), 10), "EMNIST": ((1, 28, 28), None), "STL10": ((3, 96, 96), 10),
    "EuroSAT": ((3, 64, 64), 10), "GTSRB": ((3, 64, 64), 43), "Flowers102": ((3, 224, 224), 102),
    "Food101": ((3, 224, 224), 101), "OxfordIIITPet": ((3, 224, 224), 37), "StanfordCars": ((3, 224, 224), 196),
    "FGVCAircraft": ((3, 224, 224), 100), "DTD": ((3, 224, 224), 47), "Caltech101": ((3, 224, 224), 101),
    "Country211": ((3, 224, 224), 211), "ImageNet": ((3, 224, 224), 1000),
    "ImageFolder": ((3, 224, 224), None), "DatasetFolder": ((3, 224, 224), None),
}
_EMNIST_CLASSES = {"byclass": 62, "bymerge": 47, "balanced": 47, "letters": 26, "digits": 10, "mnist": 10}
_CLASS_COUNT_NAMES = ("num_classes", "NUM_CLASSES", "n_classes", "N_CLASSES", "nclasses", "num_class", "NUM_CLASS")
DEFAULT_CLASSES = 2


def _declared_class_count(is_user: Callable[[str], bool]) -> int | None:
    frame = sys._getframe(2)
    while frame is not None and not is_user(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    for scope in (frame.f_locals, frame.f_globals):
        for name in _CLASS_COUNT_NAMES:
            value = scope.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


def install(notes: list[str], is_user: Callable[[str], bool]) -> None:
    """Wrap the data sets when the script imports torchvision's (nothing happens for a script that does not)."""
    from featlint.runtime.hooks import after_import

    after_import("torchvision.datasets", lambda datasets: _wrap_all(datasets, notes, is_user))


def _wrap_all(datasets: Any, notes: list[str], is_user: Callable[[str], bool]) -> None:
    for name, (image_size, classes) in KNOWN.items():
        cls = getattr(datasets, name, None)
        if isinstance(cls, type):
            _wrap(cls, image_size, classes, notes, is_user)


def _wrap(
    cls: type, image_size: tuple[int, int, int], classes: int | None, notes: list[str],
    is_user: Callable[[str], bool],
) -> None:
    original_init = cls.__init__
    signature = inspect.signature(original_init)

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # ImageFolder's constructor calls DatasetFolder's: only the outermost one turns the dataset fake.
        outermost = "_featlint_loading" not in self.__dict__
        self.__dict__["_featlint_loading"] = True
        try:
            original_init(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any failure to load is what --fake-data replaces
            if not outermost:
                raise
            try:
                arguments = signature.bind_partial(self, *args, **kwargs).arguments
            except TypeError:
                raise error from None  # called wrongly: the script's own bug, not missing data
            count = classes or _EMNIST_CLASSES.get(arguments.get("split", "")) or _declared_class_count(is_user)
            _become_fake(self, cls.__name__, image_size, count or DEFAULT_CLASSES, arguments, error, notes)
        finally:
            if outermost:
                del self.__dict__["_featlint_loading"]

    cls.__init__ = __init__  # type: ignore[misc]
    cls.__getitem__ = _delegating(cls.__getitem__, "__getitem__")  # type: ignore[method-assign]
    cls.__len__ = _delegating(cls.__len__, "__len__")  # type: ignore[method-assign]


def _delegating(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    """The real method, or FakeData's for an instance whose real constructor failed."""

    @functools.wraps(original)
    def method(self: Any, *args: Any) -> Any:
        fake = self.__dict__.get("_featlint_fake")
        if fake is None:
            return original(self, *args)
        # The transforms in force now: timm, for one, builds the data set first and sets them afterwards.
        fake.transform = getattr(self, "transform", None)
        fake.target_transform = getattr(self, "target_transform", None)
        return getattr(fake, name)(*args)

    return method


def _become_fake(
    dataset: Any, name: str, image_size: tuple[int, int, int], classes: int, arguments: dict[str, Any],
    error: Exception, notes: list[str],
) -> None:
    from torchvision.datasets import FakeData

    dataset._featlint_fake = FakeData(
        size=FAKE_SIZE, image_size=image_size, num_classes=classes,
        transform=arguments.get("transform"), target_transform=arguments.get("target_transform"),
    )
    dataset.classes = [f"class_{i}" for i in range(classes)]
    dataset.class_to_idx = {c: i for i, c in enumerate(dataset.classes)}
    dataset.targets = [i % classes for i in range(FAKE_SIZE)]
    dataset.transform = arguments.get("transform")
    dataset.target_transform = arguments.get("target_transform")
    first = str(error).strip().splitlines()
    notes.append(
        f"--fake-data: {name} could not be loaded ({type(error).__name__}: {first[0] if first else ''}); "
        f"using {FAKE_SIZE} random {'x'.join(map(str, image_size))} images of {classes} classes"
    )

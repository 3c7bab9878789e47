"""What a runtime check found, in plain data: per-parameter rows, a per-module summary, the findings.

Torch-free on purpose: the instrumented child process builds a :class:`Report` and sends it as JSON; the
parent (`featlint run`, `featlint check --runtime`) rebuilds and prints it without importing torch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from featlint.diagnostics import Diagnostic, Location, Severity


# What each column of the table (and each field of a parameter row) means. All describe one moment: the end of
# the run, which is right after the last watched optimizer step when the run was stopped. So a layer frozen
# at step 3 of 3 reads "frozen", and "changed" says whether its optimizer's last step moved it (it did not);
# that it moved while frozen in an earlier step is FL702. The module table counts values, as torchinfo does.
COLUMNS: dict[str, str] = {
    "params": "values (elements) of the module's parameters",
    "trainable": "values whose parameter requires grad at the end of the run",
    "frozen": "values whose parameter does not require grad at the end of the run",
    "in optimizer": "values whose parameter an optimizer holds at the end of the run (first optimizer and group)",
    "got grad": "values whose parameter had a gradient at the last watched optimizer step; ? when no step ran",
    "changed": "values that the last watched step of the optimizer holding them changed; ? when no step ran or "
               "on the meta device",
}


@dataclasses.dataclass(frozen=True)
class ParamRow:
    """One parameter as the run saw it; `got_grad`/`changed` are None where the run could not tell
    (no training step happened, or values cannot be compared on the meta device)."""

    name: str
    shape: tuple[int, ...]
    numel: int
    requires_grad: bool
    optimizer: int | None = None  # index of the optimizer holding it (in creation order), None: none does
    group: int | None = None
    lr: float | None = None
    got_grad: bool | None = None
    changed: bool | None = None

    @property
    def module(self) -> str:
        """The top-level submodule the parameter belongs to (`layer4`, `fc`), the unit of the summary."""
        return self.name.split(".", 1)[0] if "." in self.name else "(root)"


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What a finding is about, for `check --runtime` to tell which static finding it confirms: the lines of
    the user's code involved (where it points, and e.g. where the layer was assigned) and the modules or
    parameters it names."""

    rows: tuple[tuple[str, int], ...] = ()
    subjects: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ModuleRow:
    """A top-level submodule's totals, in numbers of values (as torchinfo counts), not of tensors."""

    module: str
    kind: str
    params: int
    trainable: int
    frozen: int
    in_optimizer: int
    got_grad: int | None
    changed: int | None


@dataclasses.dataclass(frozen=True)
class AdapterCounts:
    """What PEFT's `print_trainable_parameters()` prints for one PEFT model, from PEFT's own count: where it
    differs from the table's totals (4-bit weights count the values they stand for, not their packed storage)
    it is the number PEFT users compare with."""

    model: str  # the model's label, as in the parameter names when there are several
    trainable_params: int
    all_params: int

    @property
    def trainable_percent(self) -> float:
        return round(100 * self.trainable_params / self.all_params, 4) if self.all_params else 0.0

    def line(self, labelled: bool) -> str:
        """`print_trainable_parameters()`'s line, after `peft:` (and the model's label when there are several)."""
        return (f"peft{' ' + self.model if labelled else ''}: trainable params: {self.trainable_params:,} || "
                f"all params: {self.all_params:,} || trainable%: {self.trainable_percent:.4f}")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "trainable_percent": self.trainable_percent}


@dataclasses.dataclass
class Report:
    """The result of a runtime check; `assert not audit(model, optimizer).errors` is the test idiom."""

    rows: list[ParamRow]
    findings: list[Diagnostic]
    module_kinds: dict[str, str] = dataclasses.field(default_factory=dict)  # the table's modules -> class name
    notes: list[str] = dataclasses.field(default_factory=list)  # what the reader must know (random weights...)
    steps: int = 0  # optimizer steps observed
    evidence: list[Evidence] = dataclasses.field(default_factory=list)  # one per finding, in the same order
    adapters: list[AdapterCounts] = dataclasses.field(default_factory=list)  # one per PEFT model

    @classmethod
    def of(cls, rows: list[ParamRow], found: Sequence[tuple[Diagnostic, Evidence]], module_kinds: dict[str, str],
           notes: list[str], steps: int, adapters: Sequence[AdapterCounts] = ()) -> Report:
        return cls(rows, [d for d, _ in found], module_kinds, notes, steps, [e for _, e in found], list(adapters))

    def evidence_of(self, index: int) -> Evidence:
        return self.evidence[index] if index < len(self.evidence) else Evidence()

    def keeping(self, keep: Any) -> Report:
        """A copy with only the findings for which `keep(diagnostic)` is true (selection, `# noqa`)."""
        kept = [(d, self.evidence_of(i)) for i, d in enumerate(self.findings) if keep(d)]
        return dataclasses.replace(self, findings=[d for d, _ in kept], evidence=[e for _, e in kept])

    def with_paths(self, display: Any) -> Report:
        """A copy whose findings and evidence name files as `display(path)` returns them."""
        return dataclasses.replace(
            self, findings=[dataclasses.replace(d, path=display(d.path)) for d in self.findings],
            evidence=[Evidence(tuple((display(p), r) for p, r in e.rows), e.subjects)
                      for e in (self.evidence_of(i) for i in range(len(self.findings)))],
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.findings if d.severity is Severity.ERROR]

    @property
    def modules(self) -> list[ModuleRow]:
        order: dict[str, list[ParamRow]] = {}
        for row in self.rows:
            order.setdefault(self._unit(row), []).append(row)
        return [self._module_row(name, rows) for name, rows in order.items()]

    def _unit(self, row: ParamRow) -> str:
        """The table row a parameter counts in: the longest module path of `module_kinds` holding it (a
        top-level submodule, one of each model's when there are several, one of the model a PEFT model wraps),
        else the first part of its name."""
        parts = row.name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            if (path := ".".join(parts[:end])) in self.module_kinds:
                return path
        return row.module

    def _module_row(self, name: str, rows: Sequence[ParamRow]) -> ModuleRow:
        def count(pick: Any) -> int | None:
            if any(pick(r) is None for r in rows):
                return None
            return sum(r.numel for r in rows if pick(r))

        return ModuleRow(
            module=name,
            kind=self.module_kinds.get(name, ""),
            params=sum(r.numel for r in rows),
            trainable=sum(r.numel for r in rows if r.requires_grad),
            frozen=sum(r.numel for r in rows if not r.requires_grad),
            in_optimizer=sum(r.numel for r in rows if r.optimizer is not None),
            got_grad=count(lambda r: r.got_grad),
            changed=count(lambda r: r.changed),
        )

    def table(self, parameters: bool = True) -> str:
        """The per-module summary, then (with `parameters`) one line per parameter; numbers are values."""
        modules = self.modules
        lines = [_format_table(
            ("module", "type", "params", "trainable", "frozen", "in optimizer", "got grad", "changed"),
            [(m.module, m.kind, _n(m.params), _n(m.trainable), _n(m.frozen), _n(m.in_optimizer),
              _n(m.got_grad), _n(m.changed)) for m in modules]
            + [("total", "", _n(sum(m.params for m in modules)), _n(sum(m.trainable for m in modules)),
                _n(sum(m.frozen for m in modules)), _n(sum(m.in_optimizer for m in modules)),
                _total(m.got_grad for m in modules), _total(m.changed for m in modules))],
        )]
        if parameters:
            lines.append("")
            lines.append(_format_table(
                ("parameter", "shape", "numel", "trainable", "optimizer", "lr", "got grad", "changed"),
                [(r.name, "x".join(map(str, r.shape)) or "scalar", _n(r.numel), _yes(r.requires_grad),
                  "-" if r.optimizer is None else f"{r.optimizer}/group {r.group}",
                  "-" if r.lr is None else f"{r.lr:g}", _yes(r.got_grad), _yes(r.changed)) for r in self.rows],
            ))
        lines += [counts.line(labelled=len(self.adapters) > 1) for counts in self.adapters]
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "notes": list(self.notes),
            "modules": [dataclasses.asdict(m) for m in self.modules],
            "parameters": [dataclasses.asdict(r) for r in self.rows],
            "module_kinds": dict(self.module_kinds),
            "peft": [counts.to_dict() for counts in self.adapters],
            "findings": [
                {**d.to_json(), "related": [{"filename": p, "row": r} for p, r in e.rows], "subjects": list(e.subjects)}
                for d, e in zip(self.findings, (self.evidence_of(i) for i in range(len(self.findings))))
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        rows = [ParamRow(**{**r, "shape": tuple(r["shape"])}) for r in data["parameters"]]
        evidence = [Evidence(tuple((r["filename"], r["row"]) for r in d.get("related", ())),
                             tuple(d.get("subjects", ()))) for d in data["findings"]]
        adapters = [AdapterCounts(a["model"], a["trainable_params"], a["all_params"]) for a in data.get("peft", ())]
        return cls(rows, [diagnostic_from_json(d) for d in data["findings"]], dict(data["module_kinds"]),
                   list(data["notes"]), data["steps"], evidence, adapters)


def diagnostic_from_json(data: dict[str, Any]) -> Diagnostic:
    """The inverse of `Diagnostic.to_json` for the findings a runtime check makes (they carry no fix)."""
    start, end = data["location"], data["end_location"]
    return Diagnostic(
        data["code"], data["name"], Severity(data["severity"]), data["message"], data["filename"],
        Location(start["row"], start["column"]), Location(end["row"], end["column"]),
    )


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _total(values: Any) -> str:
    values = list(values)
    return "?" if any(v is None for v in values) else _n(sum(values))


def _yes(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    numeric = [i >= 2 for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if numeric[i] else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])

"""The model story on real code's shapes: decided branches and the path a finding holds on, undecided
branches, optimizer lifetimes, and the bounds that keep pathological files cheap (issue 14)."""

from __future__ import annotations

import textwrap

from featlint import lint_source
from featlint.analysis import FileAnalysis
from featlint.analysis.story import EventKind, Story
from featlint.analysis.story_interpreter.invocations import MAX_CALLS_PER_FUNCTION
from featlint.analysis.story_interpreter.recorder import MAX_EVENTS
from featlint.startup.deferred import cst


def _story(source: str) -> Story:
    return FileAnalysis(cst.parse_module(textwrap.dedent(source))).story


def _findings(source: str) -> list[tuple[int, str, str]]:
    return [(d.start.row, d.code, d.message) for d in lint_source(textwrap.dedent(source))]


_CHAIN = """\
    import torch, torchvision
    ARCH = {arch!r}
    if ARCH == "resnet":
        m = torchvision.models.resnet18(weights="DEFAULT")
        m.requires_grad_(False)
        m.fc = torch.nn.Linear(512, 2)
    elif ARCH == "vgg":
        m = torchvision.models.vgg11(weights="DEFAULT")
        m.classifier[6] = torch.nn.Linear(4096, 2)
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
"""


def test_a_finding_on_a_decided_path_names_the_path() -> None:
    found = _findings(_CHAIN.format(arch="resnet"))
    assert [(row, code) for row, code, _ in found] == [(10, "FL202")]
    assert found[0][2].endswith("(when `ARCH` is 'resnet')")


def test_the_arm_not_taken_records_nothing() -> None:
    story = _story(_CHAIN.format(arch="vgg"))
    assert [e.kind for e in story.events] == [EventKind.BUILD, EventKind.HEAD, EventKind.OPTIMIZER]
    assert _findings(_CHAIN.format(arch="vgg")) == []


def test_an_undecided_branch_is_interpreted_both_ways_and_joins_to_unknown() -> None:
    source = """\
        import random, torch, torchvision
        if random.random() > 0.5:
            m = torchvision.models.resnet18(weights="DEFAULT")
        else:
            m = torchvision.models.resnet50(weights="DEFAULT")
        m.requires_grad_(False)
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
    """
    story = _story(source)
    assert [e.kind for e in story.events] == [EventKind.BUILD, EventKind.BUILD, EventKind.OPTIMIZER]
    assert all(not e.assumptions for e in story.events)
    assert not story.optimizers[0].known


def test_argparse_defaults_decide_also_inside_the_function_that_receives_the_arguments() -> None:
    source = """\
        import argparse, torch, torchvision
        def main(args):
            m = torchvision.models.resnet18(weights="DEFAULT")
            if args.freeze:
                m.requires_grad_(False)
            return torch.optim.SGD(m.parameters(), lr=0.01)
        parser = argparse.ArgumentParser()
        parser.add_argument("--freeze", action="store_false")
        main(parser.parse_args())
    """
    freeze = _story(source).of(EventKind.FREEZE)
    assert len(freeze) == 1 and not freeze[0].conditional
    assert freeze[0].assumptions == ("`args.freeze` is True by default",)


def test_a_flag_the_loop_rebinds_is_not_a_constant_inside_the_loop() -> None:
    source = """\
        import torch, torchvision
        m = torchvision.models.resnet18(weights="DEFAULT")
        first = True
        for epoch in range(3):
            if first:
                m.requires_grad_(False)
                first = False
    """
    (freeze,) = _story(source).of(EventKind.FREEZE)
    assert freeze.conditional and not freeze.assumptions


def test_functions_called_only_in_the_arm_not_taken_are_not_interpreted_on_their_own() -> None:
    source = """\
        import torch, torchvision
        DEBUG = False
        def probe(net):
            net.requires_grad_(False)
            torch.optim.SGD(net.parameters(), lr=0.1)
        m = torchvision.models.resnet18(weights="DEFAULT")
        if DEBUG:
            probe(m)
    """
    story = _story(source)
    assert story.of(EventKind.FREEZE) == [] and story.optimizers == []


def test_an_optimizer_dies_with_the_function_that_built_it_unless_returned() -> None:
    source = """\
        import torch, torchvision
        def local(net):
            opt = torch.optim.SGD(net.parameters(), lr=0.001)
        def returned(net):
            return torch.optim.SGD(net.parameters(), lr=0.001)
        m = torchvision.models.resnet18(weights="DEFAULT")
        local(m)
        kept = returned(m)
        m.layer1.requires_grad_(False)
    """
    story = _story(source)
    dead, alive = story.optimizers
    assert dead.dead_after is not None and alive.dead_after is None
    found = _findings(source)
    assert [(row, code) for row, code, _ in found] == [(9, "FL204")]
    assert "line 5" in found[0][2]


def test_each_function_is_interpreted_a_bounded_number_of_times() -> None:
    calls = "\n".join("freeze(torchvision.models.resnet18())" for _ in range(MAX_CALLS_PER_FUNCTION + 4))
    source = f"import torchvision\ndef freeze(net):\n    net.requires_grad_(False)\n{calls}\n"
    story = _story(source)
    assert len(story.of(EventKind.FREEZE)) == MAX_CALLS_PER_FUNCTION
    assert len(story.of(EventKind.ESCAPE)) == 4


def test_a_story_past_the_event_budget_is_dropped() -> None:
    freezes = "\n".join("m.requires_grad_(False)" for _ in range(MAX_EVENTS))
    source = f"import torch, torchvision\nm = torchvision.models.resnet18()\n{freezes}\n"
    assert _story(source).events == []


def test_an_argparse_default_the_script_overrides_is_not_a_constant() -> None:
    template = """\
        import argparse, torch, torchvision
        parser = argparse.ArgumentParser()
        parser.add_argument("--freeze", action="store_true")
        args = parser.parse_args()
        {override}
        m = torchvision.models.resnet18(weights="DEFAULT")
        if args.freeze:
            m.requires_grad_(False)
    """
    for override in ("args.freeze = True", "setattr(args, 'freeze', True)", "vars(args).update(config)"):
        (freeze,) = _story(template.format(override=override)).of(EventKind.FREEZE)
        assert freeze.conditional and not freeze.assumptions
    assert _story(template.format(override="pass")).of(EventKind.FREEZE) == []


def test_arguments_parsed_from_an_explicit_list_are_not_defaults() -> None:
    template = """\
        import argparse, torch, torchvision
        parser = argparse.ArgumentParser()
        parser.add_argument("--freeze", action="store_true")
        args = parser.parse_args({argv})
        m = torchvision.models.resnet18(weights="DEFAULT")
        if not args.freeze:
            m.requires_grad_(False)
    """
    (freeze,) = _story(template.format(argv='["--freeze"]')).of(EventKind.FREEZE)
    assert freeze.conditional and not freeze.assumptions
    (freeze,) = _story(template.format(argv="args=[]")).of(EventKind.FREEZE)
    assert not freeze.conditional and freeze.assumptions == ("`args.freeze` is False by default",)

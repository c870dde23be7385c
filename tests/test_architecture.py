"""The house rules that keep the code easy to change (issue 12), checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mmvqshape.models import build_task
from mmvqshape.models.minirocket import MiniRocketClassifier, MiniRocketConfig
from mmvqshape.models.summary_lr import SummaryLRClassifier, SummaryLRConfig
from mmvqshape.models.task import OUTPUT_KEYS, Task

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mmvqshape"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``mmvqshape`` module ``path`` imports, at its top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from . import x` names a module
    return {m for m in found if m.startswith("mmvqshape")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a name that is not a module is left out)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path) & set(paths) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_counting_imports_inside_functions():
    graph = import_graph()
    assert len(graph) > 50 and "mmvqshape.pipelines.run.prepare" in graph["mmvqshape.pipelines.train"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_commands_import_the_run_and_scoring_modules_not_each_other():
    graph = import_graph()
    commands = [f"mmvqshape.pipelines.{n}" for n in ("train", "evaluate", "explain", "bench", "tokenize")]
    for command in commands:
        assert not graph[command] & (set(commands) - {command}), command


def test_imports_sit_at_the_module_top_unless_marked_lazy():
    """An import inside a function needs a ``# lazy:`` comment (a slow dependency only one path
    needs) on its line or on the line above its group of imports."""
    unmarked = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body} | {id(m) for n in tree.body if isinstance(n, ast.If | ast.Try) for m in ast.walk(n)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
                continue
            if "# lazy:" in " ".join(lines[node.lineno - 1:node.end_lineno]):
                continue
            above = node.lineno - 2  # walk up over the imports of the same group to its comment
            while above >= 0 and lines[above].strip().startswith(("import ", "from ")):
                above -= 1
            if not (above >= 0 and lines[above].strip().startswith("# lazy:")):
                unmarked.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not unmarked, "imports inside functions without a '# lazy:' comment: " + ", ".join(unmarked)


def test_models_import_no_upper_layer_and_open_no_file():
    forbidden_layers = ("mmvqshape.analysis", "mmvqshape.pipelines", "mmvqshape.text", "mmvqshape.cli", "mmvqshape.errors")
    file_calls = {"open", "load", "save", "read_text", "write_text", "read_bytes", "write_bytes", "dump", "loadtxt",
                  "savez", "safe_open", "load_file", "save_file", "mkdir", "unlink"}
    problems = []
    for path in sorted((PACKAGE / "models").glob("*.py")):
        for target in imported_modules(path):
            if target.startswith(forbidden_layers):
                problems.append(f"{path.name} imports {target}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in file_calls:
                    problems.append(f"{path.name}:{node.lineno} calls {name}()")
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                problems += [f"{path.name} imports {m}" for m in modules if m.split(".")[0] in ("pathlib", "json", "yaml", "joblib", "pickle", "os")]
    assert not problems, "\n".join(problems)


def test_models_module_scan_sees_models():
    """The scan above reads the real files (a wrong root would pass vacuously)."""
    names = {p.stem for p in (PACKAGE / "models").glob("*.py")}
    assert {"vqshape", "vqshape_task", "shape_jacobian", "mmvqshape", "task", "minirocket", "summary_lr"} <= names
    assert "mmvqshape.models.vqshape" in imported_modules(PACKAGE / "models" / "vqshape_task.py")


def _tiny(name: str):
    cfg = {"dim_embedding": 16, "num_token": 8, "len_s": 16, "num_code": 8, "channels": "joint", "objective": "classify"}
    if name == "mmvqshape":
        cfg = {k: v for k, v in cfg.items() if k != "channels"}
        return build_task(name, {**cfg, "num_slots": 2}, n_channels=3, length=64, n_classes=4, text_dim=6)
    return build_task(name, cfg, n_channels=3, length=64, n_classes=4)


def test_every_model_implements_the_task_protocol():
    vq, mm = _tiny("vqshape"), _tiny("mmvqshape")
    mm.set_action_codebook(F.normalize(torch.randn(5, 6), dim=-1), [f"s{i}" for i in range(5)])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3, 64)).astype(np.float32), np.arange(12) % 4
    mr = MiniRocketClassifier(MiniRocketConfig(n_kernels=84), n_classes=4).fit(X, y)
    lr = SummaryLRClassifier(SummaryLRConfig(C=0.5), n_classes=4).fit(X, y)
    for task in (vq, mm, mr, lr):
        assert isinstance(task, Task), type(task).__name__
    assert vq.num_codes() == {"shape": 8}
    assert mm.num_codes() == {"shape": 8, "action": 5}
    assert mr.num_codes() == {} and lr.num_codes() == {}
    assert vq.resolved_config()["num_code"] == 8 and vq.resolved_config()["len_input"] == 64
    assert mm.resolved_config()["num_slots"] == 2 and mm.resolved_config()["channels"] == "joint"
    assert mr.resolved_config()["n_kernels"] == 84 and lr.resolved_config() == {"C": 0.5, "max_iter": 2000}
    for baseline in (mr, lr):
        out = baseline({"signal": torch.from_numpy(X)})
        assert set(out) <= set(OUTPUT_KEYS) and out["logits"].shape == (12, 4)
        assert torch.equal(out["logits"].argmax(-1), torch.from_numpy(baseline.predict(X)))
    assert vq.label_candidates()[0] == [] and mr.label_candidates()[0] == [] and lr.label_candidates()[0] == []


def test_resolved_config_rebuilds_the_same_model():
    for name in ("vqshape", "mmvqshape"):
        torch.manual_seed(0)
        task = _tiny(name)
        kwargs = {"text_dim": 6} if name == "mmvqshape" else {}
        torch.manual_seed(0)
        again = build_task(name, task.resolved_config(), n_channels=3, length=64, n_classes=4, **kwargs)
        assert again.resolved_config() == task.resolved_config()
        a, b = task.state_dict(), again.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))


def test_docs_layout_lists_every_module_on_its_own_line():
    layout = (PACKAGE.parents[1] / "docs" / "layout.md").read_text()
    lines = [line.strip() for line in layout.splitlines()]
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name == "__init__.py" and len(rel.parts) > 1 and rel.parts[-2] != "report" and rel.parts[0] != "cli":
            continue  # a layer's __init__ is the folder's line
        name = "/".join(rel.parts[-2:]) if len(rel.parts) == 3 else rel.name  # a sub-package: folder/module.py
        if not any(line.startswith(name + " ") for line in lines):
            missing.append(str(rel))
    assert not missing, f"docs/layout.md lacks: {', '.join(missing)}"


def test_model_outputs_are_the_documented_keys():
    vq, mm = _tiny("vqshape"), _tiny("mmvqshape")
    mm.set_action_codebook(F.normalize(torch.randn(5, 6), dim=-1), [f"s{i}" for i in range(5)])
    batch = {"signal": torch.randn(2, 3, 64), "label": torch.tensor([0, 1]), "sub_actions": torch.randn(2, 3, 6),
             "sub_action_mask": torch.ones(2, 3, dtype=torch.bool), "label_embedding": torch.randn(2, 6), "text_present": True}
    for task in (vq, mm):
        out = task.train()(batch)
        assert set(out) <= set(OUTPUT_KEYS), sorted(set(out) - set(OUTPUT_KEYS))
        assert {"loss", "losses", "logits", "code_idx", "x_pred"} <= set(out)
    assert {"action_idx", "label_embedding_pred"} <= set(mm.eval()(batch))

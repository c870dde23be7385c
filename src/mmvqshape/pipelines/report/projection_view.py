"""One interactive 3-D view of the sub-action projections with a switch for method and view.

Drawn from each projection's ``coordinates.csv`` (view, label, sentence, x, y, z), so it
does not depend on how the analysis laid out its own HTML. One trace per label, coloured
from :mod:`mmvqshape.palette`; hovering a point shows its sentence. The switch buttons are
plain HTML; the camera stays where the reader left it when the view changes.
"""

from __future__ import annotations

import json
from typing import Any

from .folder import Projection
from .html import esc

#: Order and words of the views (the corpus's text views).
VIEW_WORDS = {"armleg": "arm + leg", "arm": "arm only", "leg": "leg only", "text": "plain sentences"}
METHOD_WORDS = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


def _points(projection: Projection, labels: list[str]) -> dict[str, list[dict[str, list]]]:
    """{view: [per label {"x", "y", "z", "text"}]} for one projection."""
    views: dict[str, list[dict[str, list]]] = {}
    position = {label: i for i, label in enumerate(labels)}
    for row in projection.rows:
        try:
            xyz = [round(float(row[axis]), 4) for axis in "xyz"]
        except (KeyError, TypeError, ValueError):
            continue
        label = row.get("label", "")
        if label not in position:
            position[label] = len(position)
            labels.append(label)
        per_label = views.setdefault(row.get("view", ""), [])
        while len(per_label) < len(labels):
            per_label.append({"x": [], "y": [], "z": [], "text": []})
        point = per_label[position[label]]
        for axis, value in zip("xyz", xyz):
            point[axis].append(value)
        point["text"].append(_wrap(row.get("sentence", "")))
    for per_label in views.values():
        while len(per_label) < len(labels):
            per_label.append({"x": [], "y": [], "z": [], "text": []})
    return views


def _wrap(sentence: str, width: int = 60) -> str:
    """Hover text in lines of about ``width`` characters (plotly breaks lines at <br>)."""
    lines, line = [], ""
    for word in sentence.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(esc(part) for part in lines if part)


def projection_view(element_id: str, projections: list[Projection], labels: list[str], colors: dict[str, str]) -> str:
    """HTML of the view (switch + plot div + script); '' when no 3-D projection has coordinates."""
    labels = list(labels)
    spec: dict[str, Any] = {"methods": {}, "labels": labels}
    for projection in projections:
        if projection.dims != 3 or not projection.rows:
            continue
        points = _points(projection, labels)
        if points:
            spec["methods"][METHOD_WORDS.get(projection.method, projection.method)] = points
    if not spec["methods"]:
        return ""
    spec["colors"] = [colors.get(label, "#888888") for label in labels]
    view_names = [v for v in VIEW_WORDS if any(v in m for m in spec["methods"].values())]
    view_names += sorted({v for m in spec["methods"].values() for v in m} - set(view_names))
    spec["views"] = view_names
    spec["view_words"] = {v: VIEW_WORDS.get(v, v) for v in view_names}
    order = list(METHOD_WORDS.values())
    methods = sorted(spec["methods"], key=lambda m: order.index(m) if m in order else len(order))

    def buttons(kind: str, values: list[str], words: dict[str, str]) -> str:
        return "".join(
            f"<button type='button' data-{kind}='{esc(v)}' aria-pressed='{str(i == 0).lower()}'>{esc(words.get(v, v))}</button>"
            for i, v in enumerate(values)
        )

    switch = (
        f"<div class='switch' role='group' aria-label='projection method'><span>method</span>{buttons('method', methods, {})}</div>"
        f"<div class='switch' role='group' aria-label='text view'><span>sentences</span>{buttons('view', view_names, spec['view_words'])}</div>"
    )
    script = f"""<script>(function(){{
var spec={json.dumps(spec, separators=(",", ":"))};
var el=document.getElementById('{element_id}');
var state={{method:{json.dumps(methods[0])},view:{json.dumps(view_names[0])}}};
function traces(){{var per=(spec.methods[state.method]||{{}})[state.view]||[];
return spec.labels.map(function(label,i){{var p=per[i]||{{x:[],y:[],z:[],text:[]}};
return {{type:'scatter3d',mode:'markers',name:label,x:p.x,y:p.y,z:p.z,text:p.text,
marker:{{size:4.5,color:spec.colors[i],line:{{width:0}}}},hovertemplate:'%{{text}}<extra>'+label+'</extra>'}};}});}}
var axis={{showticklabels:false,title:{{text:''}}}};
var layout={{margin:{{l:0,r:0,t:0,b:0}},uirevision:'keep',legend:{{orientation:'h',y:1.0,yanchor:'bottom',font:{{size:14}},itemsizing:'constant'}},
scene:{{xaxis:axis,yaxis:axis,zaxis:axis,aspectmode:'cube'}}}};
function draw(){{Plotly.react(el,traces(),layout,{{responsive:true,displayModeBar:false}});}}
el.parentNode.querySelectorAll('button[data-method],button[data-view]').forEach(function(b){{
b.addEventListener('click',function(){{var kind=b.hasAttribute('data-method')?'method':'view';state[kind]=b.getAttribute('data-'+kind);
el.parentNode.querySelectorAll('button[data-'+kind+']').forEach(function(o){{o.setAttribute('aria-pressed',String(o===b));}});draw();}});}});
draw();}})();</script>"""
    return f"<div class='view3d'>{switch}<div id='{element_id}' class='plot3d'></div>{script}</div>"

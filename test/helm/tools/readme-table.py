# Prints the bitnami-style parameter tables (## @section / ## @param) of values.yaml as Markdown, for the
# "Parameters" section of deploy/helm/zoom-pipeline/README.md:
#   "$PYTHON" test/helm/tools/readme-table.py deploy/helm/zoom-pipeline/values.yaml
import json, re, sys, yaml
text = open(sys.argv[1]).read()
values = yaml.safe_load(text)
def get(path):
    v = values
    for k in path.split('.'):
        v = v[k]
    return v
def fmt(v):
    if isinstance(v, str):
        return f"`{v}`" if v else '`""`'
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, (dict, list)):
        s = json.dumps(v, separators=(',', ':'))
        return f"`{s}`" if len(s) <= 60 else "see values.yaml"
    return f"`{v}`"
out = []
for line in text.splitlines():
    m = re.match(r"^\s*## @section (.*)$", line)
    if m:
        out += ["", f"### {m.group(1)}", "", "| Name | Description | Default |", "| --- | --- | --- |"]
        continue
    m = re.match(r"^\s*## @param (\S+) (.*)$", line)
    if m:
        desc = m.group(2).replace('|', '\\|')
        out.append(f"| `{m.group(1)}` | {desc} | {fmt(get(m.group(1))).replace('|', chr(92)+'|')} |")
print("\n".join(out).strip())

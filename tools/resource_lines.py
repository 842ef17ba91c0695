"""Lines of code a range of commits adds under the given paths.

    python tools/resource_lines.py BASE HEAD capstan_volumes setup.py

Counts the added lines (``git diff -U0 BASE HEAD``) that are not blank,
not comments and not inside a docstring (read with ast from the file as
it is at HEAD, which must be checked out). Used to hold a new resource to
its budget (README, "Adding a resource").
"""
import ast
import subprocess
import sys

base, head, *paths = sys.argv[1:]
diff = subprocess.run(["git", "diff", "-U0", base, head, "--", *paths],
                      capture_output=True, text=True, check=True).stdout
added, current = {}, None
for line in diff.splitlines():
    if line.startswith("+++ "):
        current = line[6:] if line != "+++ /dev/null" else None
    elif line.startswith("@@") and current:
        new = line.split("+")[1].split(" ")[0]
        start, _, count = new.partition(",")
        count = int(count or 1)
        added.setdefault(current, set()).update(
            range(int(start), int(start) + count))
total = 0
for path, lines in sorted(added.items()):
    text = open(path).read().splitlines()
    docs = set()
    if path.endswith(".py"):
        for node in ast.walk(ast.parse("\n".join(text))):
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                    and ast.get_docstring(node) is not None):
                doc = node.body[0]
                docs.update(range(doc.lineno, doc.end_lineno + 1))
    code = [n for n in lines if text[n - 1].strip() and n not in docs
            and not text[n - 1].strip().startswith("#")]
    print(f"{len(code):4d}  {len(lines):4d}  {path}")
    total += len(code)
print(f"{total:4d}  code lines added (docstrings, comments and blank "
      "lines not counted)")

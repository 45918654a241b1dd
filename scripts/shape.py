#!/usr/bin/env python3
"""The code's shape, as the project's rules state it: the longest functions (the rule: none
over 80 lines), the largest files (none over 400 lines without a reason at the top) and lines
over 160 characters (the formatter's limit).

    python3 scripts/shape.py [N]          the N longest functions and largest files (default 10)

It reads Sources/ only, as text: a function runs from its `func` line to the closing brace at
the same indentation; protocol requirements (no body) are left out.
"""
import glob
import re
import sys

FUNC = re.compile(r'^(\s*)(?:@\w+\s+)*(?:(?:public|private|fileprivate|internal|static|mutating|nonisolated|override)\s+)*func\s+([^\s(<]+)')


def functions(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    for i, line in enumerate(lines):
        match = FUNC.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        # The signature ends at the first `{` outside parentheses, within a few lines.
        k, depth, opened = i, 0, False
        while k < len(lines) and k < i + 8:
            text = lines[k]
            if k > i and (FUNC.match(text) or text.strip().startswith('///')):
                break
            depth += text.count('(') - text.count(')')
            if depth <= 0 and text.rstrip().endswith('{'):
                opened = True
                break
            k += 1
        if not opened or lines[k].rstrip().endswith('}'):
            continue
        j = k + 1
        while j < len(lines) and not (lines[j].startswith(' ' * indent + '}') and len(lines[j]) - len(lines[j].lstrip()) == indent):
            j += 1
        yield j - i + 1, path, i + 1, match.group(2)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    paths = sorted(glob.glob('Sources/**/*.swift', recursive=True))
    found = sorted((f for p in paths for f in functions(p)), reverse=True)
    print(f'longest functions (rule: at most 80 lines):')
    for length, path, line, name in found[:count]:
        print(f'  {length:4}  {path}:{line}  {name}')
    sizes = sorted(((sum(1 for _ in open(p, encoding='utf-8')), p) for p in paths), reverse=True)
    print(f'largest files (rule: at most 400 lines):')
    for size, path in sizes[:count]:
        print(f'  {size:4}  {path}')
    long_lines = [(p, n + 1) for p in glob.glob('Sources/**/*.swift', recursive=True) + glob.glob('Tests/**/*.swift', recursive=True)
                  for n, text in enumerate(open(p, encoding='utf-8').read().split('\n')) if len(text) > 160]
    print(f'lines over 160 characters in Sources and Tests: {len(long_lines)}')
    over = [f for f in found if f[0] > 80] + [s for s in sizes if s[0] > 400]
    return 1 if over or long_lines else 0


if __name__ == '__main__':
    sys.exit(main())

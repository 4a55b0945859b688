#!/usr/bin/env python3
"""Adds lockfile entries for platform-specific optional packages that this machine's npm registry
mirror does not carry (darwin/win32/android builds of @unrs/resolver-binding and @capgo/cli-helper).
Without them `npm ci` refuses the lockfile as out of sync; with them it skips them as foreign
platforms and never fetches them. Run after any `npm install` that rewrites package-lock.json."""
import json, re, sys

PLATFORMS = {
    'android-arm-eabi': (['android'], ['arm'], None), 'android-arm64': (['android'], ['arm64'], None),
    'darwin-arm64': (['darwin'], ['arm64'], None), 'darwin-x64': (['darwin'], ['x64'], None),
    'freebsd-x64': (['freebsd'], ['x64'], None),
    'linux-arm-gnueabihf': (['linux'], ['arm'], ['glibc']), 'linux-arm-musleabihf': (['linux'], ['arm'], ['musl']),
    'linux-loong64-gnu': (['linux'], ['loong64'], ['glibc']), 'linux-loong64-musl': (['linux'], ['loong64'], ['musl']),
    'linux-ppc64-gnu': (['linux'], ['ppc64'], ['glibc']), 'linux-riscv64-gnu': (['linux'], ['riscv64'], ['glibc']),
    'linux-riscv64-musl': (['linux'], ['riscv64'], ['musl']), 'linux-s390x-gnu': (['linux'], ['s390x'], ['glibc']),
    'openharmony-arm64': (['openharmony'], ['arm64'], None), 'win32-arm64-msvc': (['win32'], ['arm64'], None),
    'win32-ia32-msvc': (['win32'], ['ia32'], None), 'win32-x64-msvc': (['win32'], ['x64'], None),
}
path = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
lock = json.load(open(path))
packages = lock['packages']
added = 0
for parent_path, parent in list(packages.items()):
    for name, spec in (parent.get('optionalDependencies') or {}).items():
        platform = next((p for p in PLATFORMS if name.endswith('-' + p)), None)
        if platform is None or f'node_modules/{name}' in packages:
            continue
        os_, cpu, libc = PLATFORMS[platform]
        entry = {'version': re.sub(r'^[\^~]', '', spec), 'cpu': cpu, 'dev': parent.get('dev', False),
                 'optional': True, 'os': os_}
        if libc:
            entry['libc'] = libc
        if not entry['dev']:
            del entry['dev']
        packages[f'node_modules/{name}'] = entry
        added += 1
lock['packages'] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != '', kv[0])))
with open(path, 'w') as f:
    json.dump(lock, f, indent=2)
    f.write('\n')
print(f'added {added} foreign-platform lock entries')

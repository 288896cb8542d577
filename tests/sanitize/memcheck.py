#!/usr/bin/env python3
"""Runs the tests of a CMake build directory under valgrind memcheck.

The tests are the ones ctest lists (not labelled integration, optionally
matching --regex); each runs with its ctest environment and working directory,
under `valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
--error-exitcode=1` with tests/sanitize/valgrind.supp (system libraries only).
A test fails on a memcheck error, a definite leak, a failing test or a timeout;
each test's valgrind log is kept in <build>/memcheck/<test>.log.
Tests whose command is not a program built in the build directory (file
comparisons, cmake scripts) run no Vigil code and are skipped.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def listed_tests(build_dir, regex, exclude_label):
    cmd = ["ctest", "--test-dir", build_dir, "--show-only=json-v1", "-LE", exclude_label]
    if regex:
        cmd += ["-R", regex]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    tests = []
    for t in json.loads(out).get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if exclude_label in props.get("LABELS", []):
            continue
        tests.append((t["name"], t.get("command"), props))
    return tests


def summary(log_path):
    text = open(log_path, encoding="utf-8", errors="replace").read()
    errors = re.findall(r"ERROR SUMMARY: ([0-9,]+) errors", text)
    definite = re.findall(r"definitely lost: ([0-9,]+) bytes", text)
    return (int(errors[-1].replace(",", "")) if errors else -1,
            int(definite[-1].replace(",", "")) if definite else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--regex", default="", help="only tests whose name matches (ctest -R)")
    ap.add_argument("--exclude-label", default="integration")
    ap.add_argument("--suppressions", default=os.path.join(HERE, "valgrind.supp"))
    ap.add_argument("--timeout-factor", type=float, default=20.0,
                    help="memcheck runs 20-50x slower: each test's ctest TIMEOUT is multiplied by this")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    build_dir = os.path.realpath(args.build_dir)
    log_dir = os.path.join(build_dir, "memcheck")
    os.makedirs(log_dir, exist_ok=True)
    tests = listed_tests(build_dir, args.regex, args.exclude_label)
    if not tests:
        print("memcheck: no tests selected", file=sys.stderr)
        return 1

    pending = []
    for name, command, props in tests:
        if not command:
            print(f"memcheck: {name}: FAILED (not built in {build_dir})")
            pending.append((name, None, None, None))
            continue
        program = os.path.realpath(command[0])
        if not program.startswith(build_dir + os.sep):
            print(f"memcheck: {name}: skipped ({os.path.basename(program)} is not a Vigil program)")
            continue
        log = os.path.join(log_dir, name + ".log")
        cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--show-leak-kinds=definite", "--error-exitcode=1", "--num-callers=40",
               "--suppressions=" + args.suppressions, "--log-file=" + log] + command
        env = dict(os.environ)
        # memcheck cannot follow PCRE2's JIT code (QRegularExpression): it reports its reads as uninitialised.
        env["QT_ENABLE_REGEXP_JIT"] = "0"
        for assignment in props.get("ENVIRONMENT", []):
            key, _, value = assignment.partition("=")
            env[key] = value
        cwd = props.get("WORKING_DIRECTORY", build_dir)
        timeout = float(props.get("TIMEOUT", 1500)) * args.timeout_factor
        pending.append((name, cmd, (env, cwd), (log, timeout)))

    failed = []
    running = []
    queue = [p for p in pending]
    while queue or running:
        while queue and len(running) < max(1, args.jobs):
            name, cmd, where, logt = queue.pop(0)
            if cmd is None:
                failed.append(name)
                continue
            env, cwd = where
            out = open(logt[0] + ".out", "w")
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
            running.append((name, proc, out, logt, time.monotonic()))
        time.sleep(0.2)
        for item in list(running):
            name, proc, out, (log, timeout), started = item
            elapsed = time.monotonic() - started
            if proc.poll() is None and elapsed < timeout:
                continue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                verdict = f"FAILED (timeout after {timeout:.0f} s)"
            else:
                errors, definite = summary(log)
                if proc.returncode == 0:
                    verdict = "ok"
                elif errors > 0 or definite > 0:
                    verdict = f"FAILED ({errors} memcheck errors, {definite} bytes definitely lost; see {log})"
                else:
                    verdict = f"FAILED (the test failed, exit {proc.returncode}; see {log}.out)"
            out.close()
            running.remove(item)
            print(f"memcheck: {name}: {verdict} [{elapsed:.0f} s]", flush=True)
            if verdict != "ok":
                failed.append(name)

    print(f"memcheck: {len(pending) - len(failed)} passed, {len(failed)} failed"
          + (": " + " ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

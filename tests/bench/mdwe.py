#!/usr/bin/env python3
"""tests/bench/mdwe.py PROGRAM [ARG...]: runs PROGRAM the way systemd's
MemoryDenyWriteExecute=yes would, without systemd: prctl(PR_SET_MDWE,
PR_MDWE_REFUSE_EXEC_GAIN) (Linux >= 6.3), then execvp. The setting is
inherited across fork and execve, so `mdwe.py xargs keel ...` covers every
keel that xargs starts. No mapping may then be writable and executable, so
PCRE2's JIT compiler cannot get memory for its code (pcre2_jit_compile()
returns PCRE2_ERROR_NOMEMORY, -48) and pcre2_match() runs the interpreter.

tests/bench/mdwe.py --check: applies the same setting, then JIT-compiles one
pattern with the system's libpcre2-8; exit 0 when the JIT was refused (-48),
1 when it still compiled (the setting would prove nothing).

Exit 77 when the kernel refuses the prctl (older than 6.3, or a seccomp
filter), so tests can skip. Must not: change anything but its own process."""
import ctypes
import ctypes.util
import os
import sys

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
PCRE2_JIT_COMPLETE = 1
PCRE2_ERROR_NOMEMORY = -48


def deny_write_execute():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.stderr.write("mdwe: prctl(PR_SET_MDWE) refused: %s (needs Linux >= 6.3)\n"
                         % os.strerror(ctypes.get_errno()))
        sys.exit(77)


def jit_compile_result():
    """pcre2_jit_compile()'s result for one small pattern."""
    pcre2 = ctypes.CDLL(ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0")
    pcre2.pcre2_compile_8.restype = ctypes.c_void_p
    pcre2.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                      ctypes.POINTER(ctypes.c_int),
                                      ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
    pcre2.pcre2_jit_compile_8.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    pcre2.pcre2_code_free_8.argtypes = [ctypes.c_void_p]
    code_error, offset = ctypes.c_int(), ctypes.c_size_t()
    code = pcre2.pcre2_compile_8(b"\\bsmall claims\\b", 17, 0, ctypes.byref(code_error),
                                 ctypes.byref(offset), None)
    result = pcre2.pcre2_jit_compile_8(code, PCRE2_JIT_COMPLETE)
    pcre2.pcre2_code_free_8(code)
    return result


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: mdwe.py PROGRAM [ARG...] | mdwe.py --check\n")
        return 64
    deny_write_execute()
    if sys.argv[1] == "--check":
        result = jit_compile_result()
        print("pcre2_jit_compile under MDWE: %d%s" % (
            result, " (PCRE2_ERROR_NOMEMORY: no JIT, the interpreter runs)"
            if result == PCRE2_ERROR_NOMEMORY else ""))
        return 0 if result == PCRE2_ERROR_NOMEMORY else 1
    os.execvp(sys.argv[1], sys.argv[1:])
    return 127


if __name__ == "__main__":
    sys.exit(main())

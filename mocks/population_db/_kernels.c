/* The population's two hash kernels in C: splitmix64 and the inverse Feistel permutation of
 * personal-ID serials. Bit-for-bit the arithmetic of mocks/population_db/kernels.py (the pure
 * Python fallback, used when this module is not built); tests compare the two. Identity
 * verification calls them several times per request, and Python's arbitrary-precision
 * integers make each 64-bit multiply-and-mask cost ~0.5 us there, ~20 ns here. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static inline uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Any Python int, reduced mod 2**64 (two's complement for negatives), exactly what the Python
 * code's "& (2**64 - 1)" after every sum gives. */
static int as_u64(PyObject *o, uint64_t *out) {
    unsigned long long v = PyLong_AsUnsignedLongLongMask(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *out = (uint64_t)v;
    return 0;
}

static PyObject *py_mix(PyObject *self, PyObject *arg) {
    uint64_t x;
    if (as_u64(arg, &x) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(mix64(x));
}

static PyObject *py_unscramble(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t digits, key;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unscramble(digits, key) takes 2 arguments");
        return NULL;
    }
    if (as_u64(args[0], &digits) < 0 || as_u64(args[1], &key) < 0) return NULL;
    if (digits >= 1000000) {
        PyErr_SetString(PyExc_ValueError, "digits must be below 1,000,000");
        return NULL;
    }
    uint64_t left = digits / 1000, right = digits % 1000;
    for (int round = 3; round >= 0; round--) {
        uint64_t f = mix64(key + (uint64_t)round * 7919 + left) % 1000;
        uint64_t previous_left = (right + 1000 - f) % 1000;
        right = left;
        left = previous_left;
    }
    return PyLong_FromUnsignedLongLong(left * 1000 + right);
}

static PyMethodDef methods[] = {
    {"mix", py_mix, METH_O, "splitmix64 finaliser of x mod 2**64."},
    {"unscramble", (PyCFunction)(void (*)(void))py_unscramble, METH_FASTCALL,
     "Inverse of the 4-round keyed Feistel permutation of a 6-digit serial."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }

/* The population's hash kernels in C: splitmix64, the inverse Feistel permutation of
 * personal-ID serials, and the name and date of birth drawn from a citizen's hashes. Bit-for-bit the arithmetic of mocks/population_db/kernels.py (the pure
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

static const int MONTH_DAYS[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Item i of a tuple that must be a str; NULL with TypeError otherwise (borrowed reference). */
static PyObject *str_at(PyObject *tuple, Py_ssize_t i) {
    PyObject *item = PyTuple_GET_ITEM(tuple, i);
    if (!PyUnicode_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "name tables must hold str");
        return NULL;
    }
    return item;
}

/* name_and_birth(tables, key, index, chunk, year, gender, household, salt) -> (full_name, dob)
 * tables = (family_names, family_cums, middle_male, middle_female, given_male, given_female).
 * The arithmetic of kernels.py_name_and_birth, which documents it. */
static PyObject *py_name_and_birth(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "name_and_birth() takes 8 arguments");
        return NULL;
    }
    PyObject *tables = args[0];
    if (!PyTuple_Check(tables) || PyTuple_GET_SIZE(tables) != 6) {
        PyErr_SetString(PyExc_TypeError, "tables must be a tuple of 6 tuples");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < 6; i++) {
        PyObject *t = PyTuple_GET_ITEM(tables, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) == 0) {
            PyErr_SetString(PyExc_TypeError, "tables must be a tuple of 6 non-empty tuples");
            return NULL;
        }
    }
    PyObject *family_names = PyTuple_GET_ITEM(tables, 0), *family_cums = PyTuple_GET_ITEM(tables, 1);
    Py_ssize_t n_family = PyTuple_GET_SIZE(family_cums);
    if (PyTuple_GET_SIZE(family_names) != n_family) {
        PyErr_SetString(PyExc_ValueError, "family names and weights differ in length");
        return NULL;
    }
    uint64_t key, index, chunk, household, salt;
    if (as_u64(args[1], &key) < 0 || as_u64(args[2], &index) < 0 || as_u64(args[3], &chunk) < 0
        || as_u64(args[6], &household) < 0 || as_u64(args[7], &salt) < 0) return NULL;
    long year = PyLong_AsLong(args[4]);
    if (year == -1 && PyErr_Occurred()) return NULL;
    if (year < 1 || year > 9999) {
        PyErr_SetString(PyExc_ValueError, "year must be within 1..9999");
        return NULL;
    }
    int gender = PyObject_IsTrue(args[5]);
    if (gender < 0) return NULL;

    uint64_t h = mix64(key ^ (index * 0x9E3779B1ULL + 17));
    uint64_t hh = mix64(key ^ (chunk * 64 + household));
    int month = 1 + (int)(h % 12);
    int leap = (year % 4 == 0) && (year % 100 != 0 || year % 400 == 0);
    int days = MONTH_DAYS[month] + (month == 2 && leap);
    int day = 1 + (int)((h >> 4) % (uint64_t)days);

    unsigned long long total = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(family_cums, n_family - 1));
    if (PyErr_Occurred()) return NULL;
    if (total == 0) {
        PyErr_SetString(PyExc_ValueError, "family weights must not all be zero");
        return NULL;
    }
    uint64_t pick = mix64(hh ^ salt) % total;
    Py_ssize_t lo = 0, hi = n_family;  /* bisect_right(family_cums, pick) */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        unsigned long long cum = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(family_cums, mid));
        if (PyErr_Occurred()) return NULL;
        if (pick < cum) hi = mid; else lo = mid + 1;
    }
    PyObject *middles = PyTuple_GET_ITEM(tables, gender ? 3 : 2);
    PyObject *givens = PyTuple_GET_ITEM(tables, gender ? 5 : 4);
    PyObject *family = str_at(family_names, lo);
    PyObject *middle = family ? str_at(middles, (Py_ssize_t)((h >> 12) % (uint64_t)PyTuple_GET_SIZE(middles))) : NULL;
    PyObject *given = middle ? str_at(givens, (Py_ssize_t)((h >> 16) % (uint64_t)PyTuple_GET_SIZE(givens))) : NULL;
    if (given == NULL) return NULL;

    char date[16];
    int len = snprintf(date, sizeof date, "%04ld-%02d-%02d", year, month, day);
    PyObject *full_name = PyUnicode_FromFormat("%U %U %U", family, middle, given);
    if (full_name == NULL) return NULL;
    PyObject *dob = PyUnicode_FromStringAndSize(date, len);
    if (dob == NULL) {
        Py_DECREF(full_name);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, full_name, dob);
    Py_DECREF(full_name);
    Py_DECREF(dob);
    return result;
}

static PyMethodDef methods[] = {
    {"mix", py_mix, METH_O, "splitmix64 finaliser of x mod 2**64."},
    {"unscramble", (PyCFunction)(void (*)(void))py_unscramble, METH_FASTCALL,
     "Inverse of the 4-round keyed Feistel permutation of a 6-digit serial."},
    {"name_and_birth", (PyCFunction)(void (*)(void))py_name_and_birth, METH_FASTCALL,
     "(full_name, date_of_birth) of a citizen from its hashes; see kernels.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }

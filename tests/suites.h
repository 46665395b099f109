/* tests/suites.h — every Check suite; test_main.c runs them all. */
#ifndef SUITES_H
#define SUITES_H
#include <check.h>

Suite *tensor_suite(void);
Suite *autograd_suite(void);
Suite *gemm_suite(void);

/* The list test_main.c iterates; add a suite here and in its own test file. */
#define ALL_SUITES(X) \
    X(tensor_suite)   \
    X(autograd_suite) \
    X(gemm_suite)

#endif

/* tensor/real.h — the scalar type of the library.
   defines: real, REAL_IS_DOUBLE, real_exp/log/sqrt/fabs/pow/cos/sin/tanh/fmax
   The library is built twice: float (the product) and -DREAL=double (gradient checks). */
#ifndef REAL_H
#define REAL_H
#include <math.h>

#ifndef REAL
#define REAL float
#endif
typedef REAL real;

#define REAL_IS_DOUBLE (sizeof(real) == sizeof(double))

/* _Generic picks expf or exp from the argument type, so one spelling serves both builds. */
#define REAL_FN_(fn, x) _Generic((real)0, float: fn##f, default: fn)((real)(x))
#define real_exp(x)  REAL_FN_(exp, x)
#define real_log(x)  REAL_FN_(log, x)
#define real_sqrt(x) REAL_FN_(sqrt, x)
#define real_fabs(x) REAL_FN_(fabs, x)
#define real_cos(x)  REAL_FN_(cos, x)
#define real_sin(x)  REAL_FN_(sin, x)
#define real_tanh(x) REAL_FN_(tanh, x)

#endif

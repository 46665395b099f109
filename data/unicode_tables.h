/* data/unicode_tables.h — the generated Unicode tables (data/unicode_tables.c, written by
   data/unicode_gen.sh from Debian's unicode-data package), used only by data/unicode.c.
   defines: uni_version, uni_tab_letter, uni_tab_number, uni_tab_space, uni_tab_ccc,
            uni_tab_decomp, uni_tab_comp
   Each table is a flat array of rows; NAME_n is the row count. Rows:
     uni_tab_letter, _number, _space  {lo, hi}             inclusive, sorted, disjoint
     uni_tab_ccc                      {lo, hi, ccc}        canonical combining class != 0
     uni_tab_decomp                   {cp, first, second}  canonical, second 0 = singleton
     uni_tab_comp                     {first, second, composite} sorted by (first, second) */
#ifndef UNICODE_TABLES_H
#define UNICODE_TABLES_H
#include <stdint.h>

extern const char uni_version[];
extern const uint32_t uni_tab_letter[], uni_tab_number[], uni_tab_space[], uni_tab_ccc[],
    uni_tab_decomp[], uni_tab_comp[];
extern const int uni_tab_letter_n, uni_tab_number_n, uni_tab_space_n, uni_tab_ccc_n,
    uni_tab_decomp_n, uni_tab_comp_n;

#endif

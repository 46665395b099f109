/* tests/support/xml_check.h — a small XML well-formedness checker, independent of the SVG
   writers: balanced tags, quoted attributes, only the entities the writers use, one root.
   defines: xml_check, text_count, file_slurp */
#ifndef TESTS_XML_CHECK_H
#define TESTS_XML_CHECK_H

/* NULL if well-formed, else a description of the first problem */
const char *xml_check(const char *s);
/* occurrences of needle in s */
int text_count(const char *s, const char *needle);
/* the whole file (malloc'ed, NUL-terminated) or NULL */
char *file_slurp(const char *path);

#endif

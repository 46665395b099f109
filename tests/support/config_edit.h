/* tests/support/config_edit.h — edited copies of the real config.json files of
   ../shared/data/configs (tests that need them skip cleanly when the folder is absent).
   defines: config_edit_available, config_edit_copy, config_edit_free, config_set_number */
#ifndef CONFIG_EDIT_H
#define CONFIG_EDIT_H

/* 1 if dir exists (else the test should return: nothing to check); prints a note once */
int config_edit_available(const char *dir);
/* A fresh temp dir holding dir/model/config.json with the edits applied: pairs of strings
   (find, replace), NULL-terminated (edits itself may be NULL); each find must occur (the first
   occurrence is replaced). Returns the temp dir (config_edit_free removes it). */
char *config_edit_copy(const char *dir, const char *model, const char *const *edits);
void config_edit_free(char *tmp_dir);
/* In the JSON text (malloc'd, may be reallocated): the number after "key": becomes value;
   returns 0 when the key is absent (the text is unchanged). */
int config_set_number(char **text, const char *key, long value);

#endif

/* cli/merge_experts.h — `./train merge-experts` (MC-SMoE merging, nn/moe_merge.h). defines: merge_experts_cli */
#ifndef MERGE_EXPERTS_CLI_H
#define MERGE_EXPERTS_CLI_H
int merge_experts_cli(int argc, char **argv);
#endif

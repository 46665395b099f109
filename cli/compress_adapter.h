/* cli/compress_adapter.h — `./train compress-adapter` (ComPEFT, nn/adapter_compress.h). defines: compress_adapter_cli */
#ifndef COMPRESS_ADAPTER_CLI_H
#define COMPRESS_ADAPTER_CLI_H
int compress_adapter_cli(int argc, char **argv);
#endif

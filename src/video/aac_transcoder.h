/* aac_transcoder.h - one source audio stream re-encoded to AAC for a container that cannot hold
 * its codec (the re-encode branch of FFmpeg's doc/examples/transcode.c): decode, resample to
 * float planar, cut into whole AAC frames through a FIFO, encode, mux into the output. */
#ifndef FATHOM_VIDEO_AAC_TRANSCODER_H
#define FATHOM_VIDEO_AAC_TRANSCODER_H

#include <libavformat/avformat.h>

#include "fathom.h"

typedef struct fathom_aac fathom_aac;

/* Decoder for `ist`, AAC encoder for `ost` (a stream of `oc`, whose codec parameters and time
 * base are set here). oc, path (the output, for messages about the stream) and partial (the file
 * being written, for write errors) are borrowed and must outlive the transcoder. *out owned by
 * the caller (fathom_aac_free). */
fathom_status fathom_aac_open(AVFormatContext *oc, const AVStream *ist, AVStream *ost,
                              const char *path, const char *partial, fathom_aac **out);
/* Decode one packet of the source stream and mux the whole AAC frames it completes. A corrupt
 * packet is skipped with a warning. */
fathom_status fathom_aac_packet(fathom_aac *a, AVPacket *pkt);
/* Encode what is left in the FIFO and flush the encoder (end of file). */
fathom_status fathom_aac_flush(fathom_aac *a);
/* Accepts NULL and a NULL *a. */
void fathom_aac_free(fathom_aac **a);

#endif

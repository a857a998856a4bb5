/* av_quiet.h - FFmpeg's own logging, silenced once for every FFmpeg user in the library (image
 * decoding, video reading and writing): the library never prints. */
#ifndef FATHOM_MEDIA_AV_QUIET_H
#define FATHOM_MEDIA_AV_QUIET_H

/* Process-wide (FFmpeg has one log level), so only when the application left FFmpeg's level at
 * its default (AV_LOG_INFO); a level the application set before is kept (fathom.h says so). */
void fathom_av_quiet(void);

#endif

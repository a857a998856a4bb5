/* config.h - the live settings of `fathom serve`: one flat table of keys shared by the YAML
 * config file, PATCH /v1/config and WebSocket control messages, so every entry point validates
 * the same way (docs/serve.md lists the keys and when each takes effect). */
#ifndef FATHOM_SERVE_CONFIG_H
#define FATHOM_SERVE_CONFIG_H

#include <stddef.h>

#include "fathom.h"

/* struct fathom_serve_config of fathom.h (opaque there). Text keys are SV_STR bytes. */
#define SV_STR 1024
typedef struct fathom_serve_config {
    char source[SV_STR];      /* file, URL or /dev/videoN; "" = POST /v1/depth only */
    char source_options[SV_STR]; /* KEY=VALUE,... given to libavformat when opening it */
    char model[SV_STR];       /* name or path; "" = the model the server started with */
    char record[SV_STR];      /* depth video being recorded; "" = off */
    char output_url[SV_STR];  /* live depth stream published by libavformat; "" = off */
    int realtime;             /* files: play at their own rate (1) or as fast as possible (0) */
    int loop;                 /* files: start again at the end */
    int max_res;              /* longest side of source frames fed to the analyser */
    int input_size;           /* network lower bound */
    fathom_colormap colormap; /* MJPEG and color PNG */
    int invert;               /* normalized outputs: near = dark */
    double target_util;       /* governor target percent; 0 = none */
    int ws;                   /* WebSocket sink on/off */
    int mjpeg;                /* MJPEG sink on/off */
    int jpeg_quality;         /* MJPEG quality 1..100 */
    int max_clients;          /* streaming clients (WebSocket + MJPEG); applies to new clients */
    size_t max_body;          /* POST body bytes */
    int client_queue;         /* frames waiting per streaming client before it loses frames */
} sv_config;

void sv_config_defaults(sv_config *c);

/* Set one key from text ("true", "640", "inferno"). Returns 0, or -1 with a message naming
 * the key and the cause in err. */
int sv_config_set(sv_config *c, const char *key, const char *value, char *err, size_t cap);

/* Apply a JSON object of settings ({"colormap":"turbo","invert":true}) all-or-nothing: on
 * any bad key or value *c is unchanged and err says which. */
int sv_config_patch_json(sv_config *c, const char *json, size_t len, char *err, size_t cap);

/* Apply a YAML mapping of settings (the config file) all-or-nothing. */
int sv_config_load_yaml(sv_config *c, const char *text, size_t len, char *err, size_t cap);

/* The settings as a JSON object (malloc'd string, caller frees). */
char *sv_config_to_json(const sv_config *c);

/* The config file text: every key with its value and a comment (malloc'd, caller frees). */
char *sv_config_to_yaml(const sv_config *c);

#endif

/* naming.h - output names: OUTDIR/<rel_out>.<ext>, and the clash rules.
 *
 * Rules (docs/pipeline.md):
 *   Across formats: png16, png8 and color all end in .png. The first of them in the fixed
 *   order png16, png8, color gets "<stem>.png"; the others get "<stem>.<format>.png"
 *   (e.g. --format png16,color -> a.png + a.color.png). npy, npz, exr use their extension.
 *   Across inputs: two inputs that map to the same rel_out (a.jpg and a.png in one folder,
 *   or two list entries with one stem) are resolved first come, first served in source
 *   order (folders are walked in sorted order, lists in line order): the first keeps
 *   "<stem>", a later one becomes "<stem>.<source extension>" ("a.png"), and if that is
 *   taken too "<stem>.<source extension>.<n>" with n = 2, 3, ...
 *   The set of claimed names keeps two 64-bit hashes per item (16 bytes), not the strings. */
#ifndef FATHOM_PIPELINE_NAMING_H
#define FATHOM_PIPELINE_NAMING_H

#include <stddef.h>

#include "fathom.h"
#include "pipeline/item.h"

/* Extension part for one format given the whole set: "npy", "png", "png8.png", ... */
const char *fathom_naming_suffix(unsigned formats, fathom_output_format one);

/* "<outdir>/<rel_out>.<suffix>" into out. FATHOM_ERR_TOO_LARGE when it does not fit. */
fathom_status fathom_naming_path(const char *outdir, const char *rel_out, unsigned formats,
                                 fathom_output_format one, char *out, size_t cap);

/* File name without folder and without its last extension ("x/a.b.jpg" -> "a.b").
 * Names that are only an extension (".jpg") keep it. */
void fathom_naming_stem(const char *path, char *out, size_t cap);
/* Extension without the dot ("jpg"), "" when none. Points into path. */
const char *fathom_naming_ext(const char *path);

/* Append the relative folder part of `rel` (a '/'-separated path) to out, dropping empty,
 * "." and ".." components so that the result stays inside the output dir. */
void fathom_naming_clean_dir(const char *rel, char *out, size_t cap);

typedef struct fathom_names fathom_names;
fathom_status fathom_names_create(fathom_names **out);
void fathom_names_free(fathom_names **n);
/* Make it->rel_out unique among all names claimed so far (rules above; source extension
 * from it->source) and claim it. Single-threaded (the source thread). */
fathom_status fathom_names_claim(fathom_names *n, fathom_item *it);

#endif

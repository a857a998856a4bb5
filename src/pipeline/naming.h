/* naming.h - output names: OUTDIR/<rel_out>.<ext>, and the clash rules.
 *
 * Rules (docs/pipeline.md):
 *   One scheme: OUTDIR/<rel_out>.<suffix>, a fixed suffix per format whatever else is asked:
 *   npy .npy, npz .npz, exr .exr, png16 .png, png8 .png8.png, color .color.png.
 *   Clashes: every output FILE of an input is claimed, so `x.color.jpg` (png16 -> x.color.png)
 *   and `x.jpg` (color -> x.color.png) cannot share one. Resolved first come, first served in
 *   source order (folders are walked in sorted order, lists in line order): the first keeps
 *   "<stem>", a later one becomes "<stem>.<source extension>" ("a.png"), and if that is
 *   taken too "<stem>.<source extension>.<n>" with n = 2, 3, ... A name whose file is
 *   recorded in OUTDIR's manifest (manifest.h) for another input is taken as well, so names
 *   stay with their inputs when a folder grows between runs.
 *   The sets keep two 64-bit hashes per name (16 bytes), not the strings. */
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
typedef struct fathom_manifest fathom_manifest;
fathom_status fathom_names_create(fathom_names **out);
/* Claim whole output file names ("<rel_out>.<suffix>" of every format in `formats`) rather
 * than the bare rel_out (formats 0, the default: custom sources), and treat names recorded in
 * `manifest` (borrowed, may be NULL) for another input as taken. */
void fathom_names_configure(fathom_names *n, unsigned formats, fathom_manifest *manifest);
void fathom_names_free(fathom_names **n);
/* For file and URL items: set it->ident (canonical input); an input already taken in this run
 * is marked SKIPPED with it->dup_of = the first one's index and claims nothing. Then make
 * it->rel_out unique (rules above; source extension from it->source; control bytes become
 * '_') and claim it. Single-threaded (the source thread). */
fathom_status fathom_names_claim(fathom_names *n, fathom_item *it);

#endif

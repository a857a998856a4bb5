# embed.cmake - write the viewer page as a C array (cmake -DIN=... -DOUT=... -P embed.cmake),
# so the binary serves it without files on disk and without a Node toolchain.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by embed.cmake: do not edit */\n#include <stddef.h>\n"
  "const unsigned char sv_viewer_html[] = {${body} 0};\nconst size_t sv_viewer_html_len = ${len};\n")

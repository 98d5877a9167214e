# cmake -DIN=FILE -DOUT=FILE.c -DSYM=NAME -P embed_text.cmake
# Writes FILE's bytes as a NUL-terminated char array NAME (text files that
# are data, kept in their own format, compiled in).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from ${IN}: do not edit */\nconst char ${SYM}[] = {${body}0x00};\n")

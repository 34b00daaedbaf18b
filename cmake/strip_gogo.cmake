# Copies one containerd API .proto file, removing the gogoproto and containerd
# plugin options that protoc's C++ generator cannot resolve (their defining
# .proto files are Go-only). Invoked at build time:
#   cmake -DIN=<source.proto> -DOUT=<dest.proto> -P strip_gogo.cmake
file(READ "${IN}" content)
# `import weak "gogoproto/gogo.proto";` and the fieldpath plugin import.
string(REGEX REPLACE "[ \t]*import (weak )?\"gogoproto/[^\"]*\";\n" "" content "${content}")
string(REGEX REPLACE "import weak \"[^\"]*\";\n" "" content "${content}")
# Message/enum/file level options from those plugins.
string(REGEX REPLACE "[ \t]*option \\((gogoproto|containerd\\.plugin)\\.[^;]*;\n" "" content "${content}")
# Field options: every bracketed option list in these files is gogoproto-only.
string(REGEX REPLACE " *\\[\\(gogoproto\\.[^]]*\\]" "" content "${content}")
file(WRITE "${OUT}" "${content}")

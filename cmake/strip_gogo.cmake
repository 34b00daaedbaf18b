# Copies one containerd or etcd API .proto file, removing the gogoproto,
# containerd plugin and google.api (HTTP gateway) options that protoc's C++
# generator cannot resolve or has no use for (their defining .proto files are
# Go-only). Invoked at build time:
#   cmake -DIN=<source.proto> -DOUT=<dest.proto> -P strip_gogo.cmake
file(READ "${IN}" content)
# `import weak "gogoproto/gogo.proto";` and the fieldpath plugin import.
string(REGEX REPLACE "[ \t]*import (weak )?\"gogoproto/[^\"]*\";\n" "" content "${content}")
string(REGEX REPLACE "import weak \"[^\"]*\";\n" "" content "${content}")
# Message/enum/file level options from those plugins.
string(REGEX REPLACE "[ \t]*option \\((gogoproto|containerd\\.plugin)\\.[^;]*;\n" "" content "${content}")
# Field options: every bracketed option list in these files is gogoproto-only.
string(REGEX REPLACE " *\\[\\(gogoproto\\.[^]]*\\]" "" content "${content}")
# etcd's HTTP gateway: the annotations import and `option (google.api.http) =
# { post: "..." additional_bindings { ... } };` blocks on its RPCs.
string(REGEX REPLACE "[ \t]*import \"google/api/annotations.proto\";\n" "" content "${content}")
string(REGEX REPLACE "[ \t]*option \\(google\\.api\\.http\\) = {([^{}]|{[^{}]*})*};\n" "" content "${content}")
file(WRITE "${OUT}" "${content}")

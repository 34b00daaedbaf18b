# Copies one containerd or etcd API .proto file, removing the gogoproto,
# containerd plugin and google.api (HTTP gateway) options that protoc's C++
# generator cannot resolve or has no use for (their defining .proto files are
# Go-only), and the one field whose type Gantry cannot build (below).
# Invoked at build time:
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
# Introspection's plugin init error is a google.rpc.Status, whose .proto no
# Debian C++ package ships; Gantry reads only the plugins' exports, and a
# parser skips the field it does not know.
string(REGEX REPLACE "[ \t]*import \"google/rpc/status.proto\";\n" "" content "${content}")
string(REGEX REPLACE "[ \t]*google\\.rpc\\.Status init_err = 7;\n" "" content "${content}")
# `requires` is a C++20 keyword the generated accessors would use; the name
# is not on the wire.
string(REPLACE "repeated string requires = 3;" "repeated string required_plugins = 3;" content "${content}")
file(WRITE "${OUT}" "${content}")

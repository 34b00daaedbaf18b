# gantry_proto_library(NAME <target> ROOT <import root> FILES <relative .proto...>
#                      [DEPS <targets>] [IMPORT_DIRS <dirs>]
#                      [GEN_DEPENDS <files>] [GRPC])
# Generates C++ (and optionally gRPC) code for the listed files under
# ${CMAKE_CURRENT_BINARY_DIR}/gen and builds it into a static library whose
# include directory is exposed as SYSTEM so generated code never trips our
# warnings.
function(gantry_proto_library)
  cmake_parse_arguments(P "GRPC" "NAME;ROOT" "FILES;DEPS;IMPORT_DIRS;GEN_DEPENDS" ${ARGN})
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${gen})
  set(srcs)
  set(import_flags -I${P_ROOT})
  foreach(dir ${P_IMPORT_DIRS})
    list(APPEND import_flags -I${dir})
  endforeach()
  list(APPEND import_flags -I${Protobuf_INCLUDE_DIR})
  foreach(f ${P_FILES})
    string(REGEX REPLACE "\\.proto$" "" base ${f})
    set(outs ${gen}/${base}.pb.cc ${gen}/${base}.pb.h)
    set(cmd ${Protobuf_PROTOC_EXECUTABLE} ${import_flags} --cpp_out=${gen})
    if(P_GRPC)
      list(APPEND outs ${gen}/${base}.grpc.pb.cc ${gen}/${base}.grpc.pb.h)
      list(APPEND cmd --grpc_out=${gen} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND ${cmd} ${P_ROOT}/${f}
      DEPENDS ${P_ROOT}/${f} ${P_GEN_DEPENDS}
      COMMENT "protoc ${f}"
      VERBATIM)
    list(APPEND srcs ${outs})
  endforeach()
  add_library(${P_NAME} STATIC ${srcs})
  target_include_directories(${P_NAME} SYSTEM PUBLIC ${gen})
  target_link_libraries(${P_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${P_DEPS})
  target_compile_options(${P_NAME} PRIVATE -w)
endfunction()

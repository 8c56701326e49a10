# Embeds text files (SQL migrations, rule and base catalogs) into the binary so that the daemon
# runs with no files beside it. Generates a .cpp defining
#   std::span<const bw::EmbeddedFile> NAMESPACE::files()
function(bulwark_embed target namespace)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_embedded.cpp")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${namespace} "-DFILES=${ARGN}"
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake"
    DEPENDS ${ARGN} "${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake"
    COMMENT "Embedding ${namespace} files"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()

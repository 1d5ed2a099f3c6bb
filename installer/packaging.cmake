# Debian package of Docket (CPack, DEB generator). Included at the end of the top-level CMakeLists.txt.
#   cmake --build build --target package      ->  build/docket_<version>_<arch>.deb
#
# Installs: docket (the window) and docket-cli in bin/ (their install() rules are in app/), the desktop entry and
# the icon (scalable SVG in the hicolor theme), the sample archive with its CC BY 4.0 notice, and the MIT license
# as the Debian copyright file. The default model is not packaged: it is fetched (installer/setup.sh) because its
# license (Apache-2.0) and size make it a separate download.

install(DIRECTORY ${CMAKE_SOURCE_DIR}/resources/sample-archive DESTINATION share/docket)
install(FILES ${CMAKE_SOURCE_DIR}/installer/docket.desktop DESTINATION share/applications)
install(FILES ${CMAKE_SOURCE_DIR}/resources/docket.svg DESTINATION share/icons/hicolor/scalable/apps)
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION share/doc/docket RENAME copyright)

# The CUDA runtime lives outside Debian's library paths (/usr/local/cuda); let the installed binary find it there.
if(DOCKET_HAVE_CUDA AND CUDAToolkit_LIBRARY_DIR)
  foreach(tgt IN ITEMS docket-cli docket)
    if(TARGET ${tgt})
      set_target_properties(${tgt} PROPERTIES INSTALL_RPATH "${CUDAToolkit_LIBRARY_DIR}")
    endif()
  endforeach()
endif()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "docket")
set(CPACK_PACKAGE_VENDOR "The Docket authors")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "On-premise legal document analysis with a local LLM")
set(CPACK_PACKAGE_DESCRIPTION
    "Docket answers questions about an archive of legal documents with a language model that runs on the local
machine (GPU when present, CPU otherwise). Each document's attention state is kept as compressed snapshots, so
later questions reuse it instead of re-reading the document.")
set(CPACK_RESOURCE_FILE_LICENSE "${CMAKE_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The Docket authors <docket-maintainers@example.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Debian 12 runtime libraries of the -dev packages in installer/packages.txt. Listed by hand, not by
# dpkg-shlibdeps, because the optional CUDA runtime (/usr/local/cuda) belongs to no Debian package.
set(DOCKET_DEB_DEPENDS
    "libc6 (>= 2.36)"
    "libstdc++6 (>= 12)"
    "libqt6core6 (>= 6.4)"
    "libqt6widgets6 (>= 6.4)"
    "libqt6svg6 (>= 6.4)"
    "libqt6charts6 (>= 6.4)"
    "libqt6opengl6 (>= 6.4)"
    "qt6-qpa-plugins"
    "libsqlite3-0 (>= 3.40)"
    "liburing2 (>= 2.3)"
    "libzstd1"
    "libspdlog1.10"
    "libfmt9"
    "libxxhash0"
    "libpcre2-8-0"
    "libpoppler-cpp0v5"
    "libpoppler-qt6-3"
    "libzip4"
    "libminizip1")
list(JOIN DOCKET_DEB_DEPENDS ", " CPACK_DEBIAN_PACKAGE_DEPENDS)

include(CPack)

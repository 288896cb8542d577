# cmake -DBUILD_DIR=... -DPREFIX=... -DAPP_ID=... -P check-install.cmake
# Installs the build into PREFIX and checks every file a desktop needs.
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}): ${err}")
endif()

set(expected
  bin/vigil
  bin/vigilctl
  share/applications/${APP_ID}.desktop
  share/metainfo/${APP_ID}.metainfo.xml
  share/icons/hicolor/scalable/apps/${APP_ID}.svg
  share/vigil/default-policy.yaml)
foreach(size 16 24 32 48 64 128 256 512)
  list(APPEND expected share/icons/hicolor/${size}x${size}/apps/${APP_ID}.png)
endforeach()
foreach(f ${expected})
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "missing after install: ${f}")
  endif()
endforeach()

file(READ "${PREFIX}/share/applications/${APP_ID}.desktop" desktop)
foreach(line "[Desktop Entry]" "Exec=vigil %U" "Icon=${APP_ID}" "Type=Application")
  string(FIND "${desktop}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${APP_ID}.desktop lacks '${line}'")
  endif()
endforeach()
file(READ "${PREFIX}/share/metainfo/${APP_ID}.metainfo.xml" meta)
foreach(part "<id>${APP_ID}</id>" "<launchable type=\"desktop-id\">${APP_ID}.desktop</launchable>")
  string(FIND "${meta}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "metainfo lacks '${part}'")
  endif()
endforeach()
string(FIND "${meta}" "@PROJECT_VERSION@" unconfigured)
if(NOT unconfigured EQUAL -1)
  message(FATAL_ERROR "metainfo still has @PROJECT_VERSION@")
endif()
file(READ "${PREFIX}/share/icons/hicolor/256x256/apps/${APP_ID}.png" png HEX LIMIT 8)
if(NOT png STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "the 256x256 icon is not a PNG")
endif()
message(STATUS "packaging: ${PREFIX} has every expected file")

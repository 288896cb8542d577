# One INTERFACE target with the language level, warnings and Qt strictness
# every Vigil target links.
add_library(vigil_options INTERFACE)
add_library(Vigil::options ALIAS vigil_options)
target_compile_features(vigil_options INTERFACE cxx_std_20)
target_compile_options(vigil_options INTERFACE
  -Wall -Wextra -pedantic -Wold-style-cast -Wnon-virtual-dtor
  $<$<BOOL:${VIGIL_WERROR}>:-Werror>)
target_compile_definitions(vigil_options INTERFACE
  QT_NO_CAST_FROM_ASCII
  QT_NO_CONTEXTLESS_CONNECT
  QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
  QT_USE_QSTRINGBUILDER
  QT_NO_KEYWORDS)

# Fails the configure step when TARGET reaches Qt Widgets through any link.
function(vigil_assert_no_widgets target)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(aliased ${t} ALIASED_TARGET)
    if(aliased)
      list(APPEND queue ${aliased})
      continue()
    endif()
    if(t MATCHES "Widgets")
      message(FATAL_ERROR "${target} links ${t}: core/ must never depend on Qt Widgets.")
    endif()
    foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(libs ${t} ${prop})
      if(libs)
        foreach(l ${libs})
          string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" l "${l}")
          list(APPEND queue ${l})
        endforeach()
      endif()
    endforeach()
  endwhile()
endfunction()

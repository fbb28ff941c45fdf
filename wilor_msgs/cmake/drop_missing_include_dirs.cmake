# The ROS 2 message wheels on PyPI export include directories of the machine they were built
# on (/opt/python/...), which makes CMake refuse the imported targets. Drop directories that do
# not exist from each package's Python generator target; on a regular ROS install every
# directory exists and nothing changes. Used by wilor_msgs and by the venv stand-in of tf2_msgs
# (scripts/interfaces/tf2_msgs).
function(drop_missing_include_dirs)
  foreach(_dep IN LISTS ARGN)
    set(_target "${_dep}::${_dep}__rosidl_generator_py")
    if(TARGET ${_target})
      get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
      if(_dirs)
        set(_existing "")
        foreach(_dir IN LISTS _dirs)
          if(EXISTS "${_dir}" OR _dir MATCHES "^\\$<")
            list(APPEND _existing "${_dir}")
          endif()
        endforeach()
        set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_existing}")
      endif()
    endif()
  endforeach()
endfunction()

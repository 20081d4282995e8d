//! Archives: docker-archive (`docker save` / `docker load`) and oci-archive (a tar of an OCI layout), read as a `Client` and written by a streaming writer. (Being written.)

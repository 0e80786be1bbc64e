# The community-dw Airflow image: the official Airflow 3.3.2 image plus this project, installed at build
# time with the pinned constraints (never at container start). docker-compose.yml builds and runs it.
FROM apache/airflow:3.3.2-python3.11

# The project keeps its layout inside the image, so community_dw.config finds sql/ and expectations/
# beside plugins/ exactly as in a checkout; docker-compose.yml mounts the checkout's folders over these.
ARG PROJECT_DIR=/opt/community-dw

USER root
RUN mkdir -p "${PROJECT_DIR}" /opt/cdw/landing /opt/cdw/data \
    && chown -R airflow:0 "${PROJECT_DIR}" /opt/cdw \
    && chmod -R g+rwX /opt/cdw
USER airflow

WORKDIR ${PROJECT_DIR}
# Dependencies first: this layer is rebuilt only when the package or the pins change.
COPY --chown=airflow:0 pyproject.toml constraints.txt README.md ./
COPY --chown=airflow:0 plugins/ plugins/
RUN pip install --no-cache-dir -c constraints.txt . \
    && rm -rf build plugins/*.egg-info

COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 sql/ sql/
COPY --chown=airflow:0 expectations/ expectations/

# The source copy (or the mounted checkout) is imported before the installed one, so
# community_dw.config.PROJECT_ROOT is this folder. The DAGs live here too; Airflow's own plugins
# folder (/opt/airflow/plugins) stays empty because Airflow imports every .py file in it.
ENV PYTHONPATH=${PROJECT_DIR}/plugins \
    AIRFLOW__CORE__DAGS_FOLDER=${PROJECT_DIR}/dags \
    CDW_LANDING_DIR=/opt/cdw/landing \
    CDW_OUTPUT_DIR=/opt/cdw/data/out \
    CDW_STATE_DIR=/opt/cdw/data/state

WORKDIR /opt/airflow

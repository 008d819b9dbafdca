{# `column_name` never exceeds `other_column` in the same row (interested <= passing by). #}
{% test at_most(model, column_name, other_column) %}
select {{ column_name }}, {{ other_column }}
from {{ model }}
where {{ column_name }} > {{ other_column }}
{% endtest %}
